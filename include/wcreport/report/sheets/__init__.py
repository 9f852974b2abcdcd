"""The report workbook's sheets, one module each; ``report.workbook`` writes them in order."""
