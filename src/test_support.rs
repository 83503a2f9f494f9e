//! A local AWS server for unit tests that need one (started from the repository's venv).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};

/// One local AWS on a free port, stopped when dropped.
pub struct LocalAws {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    pub endpoint: String,
}

impl LocalAws {
    pub fn start() -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let python = root.join(".venv/bin/python");
        assert!(
            python.exists(),
            "run tools/local-aws/setup.sh first (tools/test-all does)"
        );
        let mut child = Command::new(python)
            .arg(root.join("tools/local-aws/local_aws.py"))
            .args(["--port", "0"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the local AWS");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("endpoint line");
        let endpoint = line
            .trim()
            .strip_prefix("LOCAL_AWS_ENDPOINT=")
            .expect("endpoint line")
            .to_owned();
        Self {
            child,
            _stdout: stdout,
            endpoint,
        }
    }
}

impl Drop for LocalAws {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One of the repository's own environments, loaded as `pixelctl` loads it.
pub fn environment(name: &str) -> crate::config::Environment {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    crate::config::load(&root.join("environments"), name)
        .unwrap_or_else(|error| panic!("environment `{name}`: {error}"))
}
