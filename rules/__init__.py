"""The rule engine (issue 6): pure Python, no I/O, no clock reads; time is passed in.

- ``catalogue``: metric names, units, labels, value formatting.
- ``model``: rules, alert state, decisions.
- ``grammar``: the ``/alert`` language (``parse_rule`` / ``format_rule``, ``RuleError``).
- ``evaluate``: ok -> pending -> firing -> resolved, hysteresis, repeat, no data.
- ``events``: which event rules a retarget or filing concerns.
- ``quiet``: quiet hours and the daily digest schedule.
- ``index``: rules by metric and event kind.
- ``durations``: ``30m``/``2h`` durations shared with the config; ``fleet``: per-chat economics.
"""
