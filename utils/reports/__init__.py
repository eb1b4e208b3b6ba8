"""Reports: test-set evaluation, figures, report.html pages and the comparison of several runs.

May import utils.runs, utils.tasks and utils.core; never utils.training or utils.cli.
"""
