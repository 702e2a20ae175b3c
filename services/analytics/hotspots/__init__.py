"""热点 hotspots: bursts per district and category, near-duplicate contact clusters and
periodic-demand foresight, run by an embedded runner or a faust-streaming job."""
