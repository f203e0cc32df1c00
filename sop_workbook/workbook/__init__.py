"""Workbook adapters: headless (openpyxl) access, recalculation and safe saving."""
