"""xlwings UDFs: the KPI functions Excel cells call (thin wrappers over ``sop_workbook.kpi``)."""
