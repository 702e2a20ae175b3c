"""报告 reports: periodic and special analytics reports (content, charts, HTML/PDF/CSV/XLSX,
the register of made reports, the schedule, the API)."""
