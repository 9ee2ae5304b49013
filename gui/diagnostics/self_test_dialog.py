"""Help > Run Self-Test…: core.selftest.run_self_test on a pool thread, its lines shown as they arrive, with a
Copy button so the text can be sent to whoever helps."""

from __future__ import annotations

from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout

from gui.workers import TaskRunner


def run_self_test_task(ctx) -> int:
    """Runs on a pool thread; each line goes out as a partial result. Closing the dialog stops it at the next
    line (the timed pass itself takes a few seconds and is not interrupted)."""
    from core.selftest import run_self_test

    def say(line: str) -> None:
        ctx.check_cancelled()
        ctx.partial(line)

    return run_self_test(say)


class SelfTestDialog(QDialog):
    """Runs the self-test when shown with start(); exit_code is None while it runs."""

    def __init__(self, tasks: TaskRunner, parent=None):
        super().__init__(parent)
        self.setWindowTitle("SegLab Self-Test")
        self.resize(760, 420)
        self.exit_code: int | None = None
        self._tasks = tasks
        self._task = None

        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.output = QPlainTextEdit()
        self.output.setReadOnly(True)
        self.output.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.output.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("&Copy")
        self.copy_button.setToolTip("Copy the whole report to the clipboard")
        self.run_button = QPushButton("Run &Again")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.run_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.copy_button.clicked.connect(self.copy_report)
        self.run_button.clicked.connect(self.start)

        layout = QVBoxLayout(self)
        layout.addWidget(self.status_label)
        layout.addWidget(self.output, 1)
        layout.addWidget(buttons)

    @property
    def running(self) -> bool:
        return self._task is not None

    def text(self) -> str:
        return self.output.toPlainText()

    def start(self) -> None:
        """Clear the report and run the self-test again."""
        self.stop()
        self.output.clear()
        self.exit_code = None
        self.status_label.setText("Running the self-test… the timed training pass takes a few seconds.")
        self.run_button.setEnabled(False)
        task = self._task = self._tasks.start(run_self_test_task)
        task.signals.partial.connect(lambda line, t=task: self._on_task_line(t, line))
        task.signals.finished.connect(lambda code, t=task: self._on_task_finished(t, code))
        task.signals.failed.connect(lambda message, details, t=task: self._on_task_failed(t, message, details))

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.run_button.setEnabled(True)

    def copy_report(self) -> None:
        QGuiApplication.clipboard().setText(self.text())

    def done(self, result: int) -> None:  # closing stops a run that is still going
        self.stop()
        super().done(result)

    def _on_task_line(self, task, line: str) -> None:
        if task is self._task:
            self.output.appendPlainText(line)

    def _on_task_finished(self, task, code: int) -> None:
        if task is not self._task:
            return
        self.exit_code = code
        self.status_label.setText("All checks passed." if code == 0 else
                                  "Some checks failed: the lines starting with PROBLEM say what to do.")
        self.stop()

    def _on_task_failed(self, task, message: str, details: str) -> None:
        if task is not self._task:
            return
        self.exit_code = 1
        self.output.appendPlainText(f"The self-test stopped: {message}\n\n{details}")
        self.status_label.setText("The self-test could not finish. Copy the report and send it to the developers.")
        self.stop()
