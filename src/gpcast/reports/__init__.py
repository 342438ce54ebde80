"""Reports for people: the model card, the backtest, monitoring and data validation.

Each report module gathers its facts and charts (``plots.py``, ``monitoring.py``) and
renders them through the Jinja2 templates in ``templates/`` (:mod:`.render`): one base
layout and one stylesheet for every HTML report, markdown beside it where there is one.
"""
