"""Report: the consolidated model, the manifest and the print-ready workbook."""
