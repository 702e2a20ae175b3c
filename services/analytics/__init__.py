"""数据分析 analytics: fact tables folded from the log, KPIs over them, the analysts' API."""
