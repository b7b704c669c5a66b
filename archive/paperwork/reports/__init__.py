"""The three reports the archive writes: 工作汇报/总结, 整改情况报告, 每月自查报告.

Each builder takes a :class:`~archive.paperwork.reports.context.ReportContext` (the archive,
its catalog, the bureau's files and the pinned dates) and returns a
:class:`~archive.paperwork.reports.context.Report`: the :class:`OfficialDocument` (rendered
to .docx and .pdf by :func:`~archive.paperwork.reports.build.write_report`), the figures it
states with the records behind them, and ``notes`` for the clerk (what the bureau's narrative
file lacks, which method compared months).  Figures are never typed in: they come from
:mod:`archive.assess.figures`, the audit and the score, or the bureau's metrics file.

    from archive.paperwork.reports.build import build_report, open_context, write_report
    with open_context(archive, year=2024, as_of=date(2024, 12, 31)) as ctx:
        report = build_report("summary", ctx)
        paths = write_report(report, out_dir)
"""
