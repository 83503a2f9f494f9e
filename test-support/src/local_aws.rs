//! Starts the repository's local AWS (`tools/local-aws/local_aws.py`, moto) on a
//! free port of 127.0.0.1 and stops it when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};

/// One local AWS server, stopped when dropped.
pub struct LocalAws {
    child: Child,
    // Kept open so the server never writes into a closed pipe.
    _stdout: BufReader<ChildStdout>,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// With `--fake-providers`: their base URLs, as `PIXELCTL_PROVIDER_BASE_URLS` wants them.
    pub fake_providers: Option<String>,
}

impl LocalAws {
    /// Starts it with launcher options (e.g. `--fake-providers`, `--page-size 2`).
    /// Fails, naming the setup step, when the local AWS's venv is missing.
    pub fn start(options: &[&str]) -> Self {
        let root = crate::repo_root();
        let python = root.join(".venv/bin/python");
        assert!(
            python.exists(),
            "the local AWS needs its venv at {}: run tools/local-aws/setup.sh (tools/test-all does)",
            python.display()
        );
        let mut child = Command::new(python)
            .arg(root.join("tools/local-aws/local_aws.py"))
            .args(["--port", "0"])
            .args(options)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the local AWS");
        let mut stdout = BufReader::new(child.stdout.take().expect("local AWS stdout"));
        let endpoint = announced(&mut stdout, "LOCAL_AWS_ENDPOINT=");
        assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");
        let fake_providers = options
            .contains(&"--fake-providers")
            .then(|| announced(&mut stdout, "FAKE_PROVIDERS="));
        Self {
            child,
            _stdout: stdout,
            endpoint,
            fake_providers,
        }
    }
}

/// The value of the next line the server prints, which must start with `prefix`.
fn announced(stdout: &mut BufReader<ChildStdout>, prefix: &str) -> String {
    let mut line = String::new();
    stdout
        .read_line(&mut line)
        .unwrap_or_else(|error| panic!("read the local AWS's {prefix} line: {error}"));
    line.trim()
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("the local AWS printed {line:?}, not {prefix}..."))
        .to_owned()
}

impl Drop for LocalAws {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
