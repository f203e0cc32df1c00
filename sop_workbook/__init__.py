"""sop_workbook — the core of a spreadsheet-native Sales & Operations Planning product.

Pure KPI, plan and budget logic on pandas/numpy (``sop_workbook.kpi``), the source data
contract and its loader, demo data, and thin adapters (CLI, workbook) around them.
"""

__version__ = "0.1.0"
