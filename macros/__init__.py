"""Ribbon entry points called from Excel through xlwings' RunPython."""
