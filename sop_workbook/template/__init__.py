"""The macro workbook template (``SOP_Template.xlsm``), built from the text sources in ``xl/``."""
