"""One typed settings object, read from HOTLINE_* environment variables.

The defaults run everything on one machine with nothing installed: the event
log, the projections and the citizen keys are SQLite files under
`.hotline/`. Production points HOTLINE_LOG at Kafka and HOTLINE_DB at
PostgreSQL; it must also set a real HOTLINE_MASTER_KEY or HOTLINE_MASTER_KEY_FILE
(the settings refuse the development key outside `environment=development`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything a service needs to start; one instance per process."""

    model_config = SettingsConfigDict(env_prefix="HOTLINE_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path(".hotline")
    log: str = Field(default="", description="sqlite:///path or kafka://host:9092[,host2:9092]")
    db: str = Field(default="", description="SQLAlchemy async URL of the projection database")
    keys_db: str = Field(default="", description="SQLite path of the citizen key table")
    master_key: str = Field(
        default="",
        description="base64 32-byte key wrapping citizen keys; generated under data_dir in dev",
    )
    master_key_file: str = Field(
        default="", description="path of a file holding the master key (base64), e.g. where "
        "Kubernetes mounts the secret; instead of master_key, never with it")
    api_keys_db: str = Field(
        default="", description="SQLAlchemy async URL of the API key table: a SQLite file "
        "(default data_dir/api_keys.db) or postgresql+asyncpg://… shared by every replica")
    allow_unsafe: bool = Field(default=False, description="accept log settings that may lose data")
    topic_prefix: str = Field(
        default="", description="prefix of every topic and group, to share a cluster (e.g. 'stg.')"
    )

    kafka_idempotence: bool = True  # tansu (the test broker) rejects idempotent producers
    kafka_acks: str = "all"
    kafka_isolation: str = "read_committed"
    kafka_session_timeout_ms: int = 10_000
    kafka_heartbeat_interval_ms: int = 3_000
    kafka_prompt_fetch_wait_ms: int = Field(
        default=100, ge=1, description="longest wait of a fetch of requests or replies on an "
        "idle partition (Kafka answers at once when a record arrives; 1 against tansu)")
    kafka_replication_factor: int = 3

    trusted_proxies: str = Field(
        default="", description="comma-separated addresses or CIDRs of the reverse proxies "
        "whose X-Forwarded-For is believed (e.g. the ingress); none by default")

    ticket_commands: Literal["auto", "local", "routed"] = Field(
        default="auto", description="how services reach the ticket decider: 'local' (the desk "
        "in their own process), 'routed' (hotline.commands to the replica owning the ticket's "
        "partition); 'auto' routes on Kafka and stays local on the embedded log")
    ticket_snapshots: bool = Field(
        default=True, description="whether the ticket desk keeps each ticket's state in the "
        "database, so a cold load reads only the records after it instead of fetching and "
        "folding the whole stream (ticketing/snapshots.py)")
    command_timeout_seconds: float = Field(
        default=10.0, gt=0, description="how long a routed ticket command waits for its answer "
        "before the API answers 503 with Retry-After")

    host: str = "127.0.0.1"
    tickets_port: int = 8105
    people_port: int = 8106
    intake_port: int = 8101
    dispatch_port: int = 8102
    supervision_port: int = 8103
    supervision_tick_seconds: float = Field(
        default=30.0, gt=0, description="how often the supervision ticker looks for deadlines")
    callback_port: int = 8104
    knowledge_port: int = 8107
    analytics_port: int = 8108
    console_port: int = 8100
    service_urls: dict[str, str] = Field(
        default_factory=dict, description="where the console reaches each service's API, e.g. "
        '{"dispatch": "http://dispatch:8102"} (default http://host:<name>_port)')
    knowledge_url: str = Field(
        default="", description="where dispatch asks for knowledge recommendations (default "
        "http://host:knowledge_port)")
    knowledge_index: str = Field(
        default="", description="the knowledge search index: a SQLite (FTS5) URL, default "
        "sqlite+aiosqlite:///<data_dir>/knowledge-index.db")
    elasticsearch_url: str = Field(
        default="", description="the knowledge search index on Elasticsearch (e.g. "
        "https://user:pass@es:9200); empty: SQLite FTS5 in the data directory")
    elasticsearch_index: str = "hotline-knowledge"
    knowledge_second_reviewer: bool = Field(
        default=True, description="四眼原则: who drafted or submitted a knowledge article may "
        "not approve it")
    callback_tick_seconds: float = Field(
        default=10.0, gt=0, description="how often the callback worker opens and closes surveys")
    survey_base_url: str = Field(
        default="", description="public base of survey links (default http://host:callback_port)")
    max_batch_items: int = 500  # contacts per POST /v1/contacts/batch
    duplicate_window_days: int = Field(
        default=30, ge=1, description="how far back open tickets are offered as duplicates")
    duplicate_similarity: float = Field(
        default=0.5, gt=0, le=1, description="bigram overlap that makes text a duplicate")

    def inapplicable(self) -> list[str]:
        """Warnings for settings given that the chosen engines ignore (a typo'd expectation
        is worse than none: HOTLINE_KAFKA_ACKS=1 on the embedded log does nothing)."""
        given = self.model_fields_set
        warnings = []
        if not self.log.startswith("kafka://"):
            ignored = sorted(f for f in given if f.startswith("kafka_"))
            warnings += [f"HOTLINE_{f.upper()} is set but the log is embedded: ignored"
                         for f in ignored]
        return warnings

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if not self.log:
            self.log = f"sqlite:///{self.data_dir / 'log.db'}"
        if not self.db:
            self.db = f"sqlite+aiosqlite:///{self.data_dir / 'projections.db'}"
        if not self.knowledge_url:
            self.knowledge_url = f"http://{self.host}:{self.knowledge_port}"
        if not self.survey_base_url:
            self.survey_base_url = f"http://{self.host}:{self.callback_port}"
        if not self.keys_db:
            self.keys_db = str(self.data_dir / "keys.db")
        if not self.api_keys_db:
            self.api_keys_db = f"sqlite+aiosqlite:///{self.data_dir / 'api_keys.db'}"
        if self.environment == "production" and not (self.master_key or self.master_key_file):
            raise ValueError("HOTLINE_MASTER_KEY or HOTLINE_MASTER_KEY_FILE must be set "
                             "in production")
        return self
