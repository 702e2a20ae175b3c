"""Reference data every service shares, and its rules: the working-day calendar, the deadline
policy, the unit directory, the category taxonomy and the dispatch catalogue.

Data, not code: a new unit, a holiday schedule or a time limit is a JSON change here.
Below the services (they all read it), above the platform core.
"""
