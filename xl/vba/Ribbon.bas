Attribute VB_Name = "Ribbon"
' Callbacks of the S&OP ribbon tab (xl/customUI.xml).
'
' Each button's onAction names one of the Subs below ("Ribbon.<Sub>"). A ribbon callback
' must be a Public Sub taking (control As IRibbonControl); IRibbonControl comes from the
' Microsoft Office Object Library reference.
'
' The work is done in Python: RunPython comes from the xlwings add-in, which this
' project references (Tools > References > xlwings). The add-in must be installed
' ("xlwings addin install"); the Python side is the package "macros" of sop-workbook.
Option Explicit

Private Const APP_TITLE As String = "S&OP"
Private Const GUIDE_SHEET As String = "Guide"

' Refresh: load and validate the source data, rewrite the data tables and recompute
' every KPI. What planners typed (overrides, comments, actions, targets) is kept.
Public Sub SOP_Refresh(control As IRibbonControl)
    RunPython "import macros; macros.refresh()"
End Sub

' Roll forward: archive the plan and move the workbook to the next period.
' Asks first: it changes the plan for everyone who uses this workbook.
Public Sub SOP_RollForward(control As IRibbonControl)
    Dim answer As VbMsgBoxResult
    answer = MsgBox("Roll the plan forward to the next period?" & vbCrLf & vbCrLf & _
        "The current plan is archived in the plan history, the oldest period leaves " & _
        "the horizon and a new last period opens. Overrides on the periods that stay " & _
        "are kept." & vbCrLf & vbCrLf & _
        "Save the workbook first if you may want to go back.", _
        vbYesNo + vbQuestion + vbDefaultButton2, APP_TITLE & " - Roll forward")
    If answer <> vbYes Then Exit Sub
    RunPython "import macros; macros.roll_forward()"
End Sub

' Re-run baseline: forecast the statistical baseline again from the history already in
' the workbook (no Refresh); overrides and other inputs are kept.
Public Sub SOP_Baseline(control As IRibbonControl)
    RunPython "import macros; macros.baseline()"
End Sub

' Export scorecard: the one-page executive scorecard (PDF), its charts (PNG) and a
' values-only copy (XLSX), written next to the workbook.
Public Sub SOP_ExportScorecard(control As IRibbonControl)
    RunPython "import macros; macros.export_scorecard()"
End Sub

' Recalculate: recompute every formula, the KPI cells (Python UDFs) included.
' Excel calls the UDFs through the xlwings add-in; no macro needed.
Public Sub SOP_Recalculate(control As IRibbonControl)
    Application.CalculateFull
End Sub

' Guide: show the guide sheet (what the workbook is, the cycle, roles, the buttons).
Public Sub SOP_OpenGuide(control As IRibbonControl)
    On Error GoTo NoGuide
    ThisWorkbook.Worksheets(GUIDE_SHEET).Activate
    ThisWorkbook.Worksheets(GUIDE_SHEET).Range("A1").Select
    Exit Sub
NoGuide:
    MsgBox "This workbook has no sheet named '" & GUIDE_SHEET & "'.", _
        vbExclamation, APP_TITLE
End Sub

' Check setup: what "sop doctor" checks (add-in version, interpreter, udfs/macros
' importable, UDF server, macro security, Mark of the Web), run by the Python the add-in
' uses. If Python cannot be started at all, says what to run instead.
Public Sub SOP_CheckSetup(control As IRibbonControl)
    On Error GoTo NoPython
    RunPython "import macros; macros.check_setup()"
    Exit Sub
NoPython:
    MsgBox "Python could not run the check (" & Err.Description & ")." & vbCrLf & vbCrLf & _
        "In a terminal, run:  sop doctor """ & ThisWorkbook.FullName & """" & vbCrLf & _
        "It prints each problem with its fix.", vbExclamation, APP_TITLE & " - Check setup"
End Sub
