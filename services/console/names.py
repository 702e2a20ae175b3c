"""Chinese names for the codes the pages show: units, districts, categories.

From the reference data this process already holds (`reference.bundle.reference_of`: the
directory and taxonomy files every service loads), not from an API: they are the same
files, a page pays nothing for them, and every role may see a unit's name (an editor
may not read dispatch's directory API, yet lists articles by owning unit). A code the
files do not know is shown as itself.
"""

from __future__ import annotations

from reference.directory import ReferenceData


class Names:
    """Names by code, built once per process."""

    def __init__(self, ref: ReferenceData) -> None:
        self.units = {u.id: u.name_zh for u in ref.directory.units()}
        self.districts = {d.code: d.name_zh for d in ref.directory.districts()}
        self.categories = {node.code: node.name_zh for top in ref.taxonomy.level1()
                           for node in (top, *ref.taxonomy.children(top.code))}
        self.unit_choices = [(u.id, u.name_zh) for u in ref.directory.units()]
        self.district_choices = [(d.code, d.name_zh) for d in ref.directory.districts()]
        self.level1_choices = [(top.code, top.name_zh) for top in ref.taxonomy.level1()]
        # for one <select>: (level-1 name, [("level1/level2", name), …]) per group
        self.category_choices = [
            (top.name_zh, [(f"{top.code}/{c.code}", c.name_zh)
                           for c in ref.taxonomy.children(top.code)] or [(top.code, top.name_zh)])
            for top in ref.taxonomy.level1()]

    def unit(self, code: str | None) -> str:
        return self.units.get(code or "", code or "")

    def district(self, code: str | None) -> str:
        return self.districts.get(code or "", code or "")

    def category(self, level1: str | None, level2: str | None = None) -> str:
        """`城市管理 / 路灯照明`; one level when only one is given."""
        return " / ".join(self.categories.get(c, c) for c in (level1, level2) if c)
