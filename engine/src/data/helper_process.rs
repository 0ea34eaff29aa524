//! A synthesizer that loads a model or a WebAssembly module once and then says word after word
//! runs as a helper process per thread (Kokoro's Python, GnuSpeech's Node): one job per line on
//! its standard input, one answer line for each on its standard output, `ready` once it has
//! loaded, `ok` or `error: why` for each job.

use super::DataError;
use std::cell::RefCell;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::thread::LocalKey;

/// One helper process and its pipes; it exits when its input closes (dropped with the thread).
pub(super) struct Helper {
    child: Child,
    input: Option<ChildStdin>,
    answers: Option<BufReader<ChildStdout>>,
}

/// This thread's helper of one synthesizer, started on its first word.
pub(super) type HelperSlot = LocalKey<RefCell<Option<Helper>>>;

/// The longest answer line read: a helper's answers are a word or an error message.
const MAX_ANSWER_BYTES: u64 = 64 * 1024;

/// How a job ended.
pub(super) enum Outcome {
    /// The helper wrote the file.
    Done,
    /// The helper is well but could not do this job, and says why.
    Refused(String),
    /// The helper stopped answering (it is not reused); says why.
    Stopped(String),
}

impl Helper {
    /// Starts `command` as a helper and waits until it has loaded. Starts are taken one at a
    /// time, so the threads' helpers do not all load their model at once. `synthesizer` and
    /// `install` word the errors.
    pub(super) fn start(
        mut command: Command,
        synthesizer: &str,
        install: &str,
    ) -> Result<Self, DataError> {
        static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = STARTING.lock();
        let program = command.get_program().to_string_lossy().into_owned();
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                DataError::Invalid(format!(
                    "{synthesizer}'s `{program}` could not run ({e}): install {install}"
                ))
            })?;
        let (input, answers) = (child.stdin.take(), child.stdout.take().map(BufReader::new));
        let mut helper = Self {
            child,
            input,
            answers,
        };
        match helper.answer().as_deref() {
            Some("ready") => Ok(helper),
            answer => {
                let _ = helper.child.kill();
                let why = answer
                    .and_then(|a| a.strip_prefix("error: "))
                    .unwrap_or("it exited without saying why");
                Err(DataError::Invalid(format!(
                    "{synthesizer} could not start with `{program}`: {why}; install {install}"
                )))
            }
        }
    }

    /// The helper's next answer line, or None once it has closed its output.
    fn answer(&mut self) -> Option<String> {
        let mut line = String::new();
        let answers = self.answers.as_mut()?;
        match Read::take(answers, MAX_ANSWER_BYTES).read_line(&mut line) {
            Ok(read) if read > 0 => Some(line.trim_end().to_string()),
            _ => None,
        }
    }

    /// Sends one job and waits for its answer line.
    fn ask(&mut self, job: &str) -> Result<String, String> {
        let input = self.input.as_mut().ok_or("its input is closed")?;
        let sent = input.write_all(job.as_bytes()).and_then(|()| input.flush());
        self.answer().ok_or_else(|| match sent {
            Err(e) => format!("could not give it the job ({e})"),
            Ok(()) => "it exited without answering".into(),
        })
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        // Closing its input ends its loop, and closing its output ends any answer it is still
        // writing; it is waited for so no process is left behind.
        self.input = None;
        self.answers = None;
        let _ = self.child.wait();
    }
}

/// `out` as a field of a job line: an error naming `synthesizer` when the path is not UTF-8 or
/// holds a tab or a line break, which would split the line.
pub(super) fn path_field<'a>(out: &'a Path, synthesizer: &str) -> Result<&'a str, DataError> {
    (out.to_str().filter(|s| !s.contains(['\t', '\n']))).ok_or_else(|| {
        DataError::Invalid(format!(
            "{}: {synthesizer} cannot write to this path",
            out.display()
        ))
    })
}

/// `job` (one line, ending in a newline) done by this thread's helper in `slot`, started by
/// `start` when the thread has none yet; the error is a helper that could not start.
pub(super) fn ask(
    slot: &'static HelperSlot,
    start: impl FnOnce() -> Result<Helper, DataError>,
    job: &str,
) -> Result<Outcome, DataError> {
    slot.with(|slot| {
        let mut slot = slot.borrow_mut();
        let helper = match slot.as_mut() {
            Some(helper) => helper,
            None => slot.insert(start()?),
        };
        Ok(match helper.ask(job) {
            Ok(answer) if answer == "ok" => Outcome::Done,
            Ok(answer) => Outcome::Refused(
                answer
                    .strip_prefix("error: ")
                    .unwrap_or(&answer)
                    .to_string(),
            ),
            Err(why) => {
                // A helper that stopped answering is not reused.
                *slot = None;
                Outcome::Stopped(why)
            }
        })
    })
}
