from sop_workbook.cli import main

main()
