//! Building `frontend/` for one deploy: `npm ci` only when `node_modules` does
//! not match the lock file, then `npm run build` with the `VITE_*` settings
//! taken from the stack's outputs, into pixelctl's own folder (the developer's
//! `frontend/dist` is left alone).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use serde_json::Value;

use super::files::{BuiltSite, SiteError};
use crate::progress::Progress;

/// The web app's folder, relative to the project root.
pub const FRONTEND_DIR: &str = "frontend";

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(
        "there is no web app to publish: `{}` is missing; pass --no-frontend to deploy the stack alone",
        .dir.join("package.json").display()
    )]
    NoApp { dir: PathBuf },
    #[error(
        "`npm` was not found on PATH: the web app needs Node.js 20.19+ with npm (on Debian: apt-get install nodejs npm), or pass --no-frontend"
    )]
    NoNpm,
    #[error("cannot run `{command}` in `{}`", .dir.display())]
    Spawn {
        command: String,
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status}) in `{}`:\n{output}", .dir.display())]
    Failed {
        command: String,
        dir: PathBuf,
        status: String,
        output: String,
    },
    #[error("`{}` is not a valid npm lock file", .path.display())]
    BadLock {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(transparent)]
    Site(#[from] SiteError),
}

/// The `VITE_*` settings a build gets: the API and distribution a browser on
/// this machine reaches (`outputs` already in their local forms against the
/// local AWS) and the environment's name. Pure.
pub fn build_env(outputs: &BTreeMap<String, String>, environment: &str) -> Vec<(String, String)> {
    let output = |key: &str| outputs.get(key).cloned().unwrap_or_default();
    vec![
        ("VITE_API_ENDPOINT".to_owned(), output("ApiEndpoint")),
        (
            "VITE_CLOUDFRONT_DOMAIN".to_owned(),
            output("CloudFrontDomain"),
        ),
        ("VITE_S3_BUCKET".to_owned(), output("ImagesBucket")),
        ("VITE_ENVIRONMENT".to_owned(), environment.to_owned()),
    ]
}

/// Whether `npm ci` must run: no installed tree (`node_modules/.package-lock.json`,
/// which npm writes on install), or a package in it that the lock file pins
/// differently, or a package the lock needs (not an optional, platform-specific
/// one) that is not installed. Pure.
pub fn install_needed(lock: &Value, installed: Option<&Value>) -> bool {
    let Some(installed) = installed.and_then(|tree| tree.get("packages")) else {
        return true;
    };
    let Some(locked) = lock.get("packages").and_then(Value::as_object) else {
        return true;
    };
    let Some(installed) = installed.as_object() else {
        return true;
    };
    let differs = installed
        .iter()
        .any(|(path, package)| locked.get(path) != Some(package));
    let missing = locked.iter().any(|(path, package)| {
        !path.is_empty()
            && !installed.contains_key(path)
            && package.get("optional").and_then(Value::as_bool) != Some(true)
    });
    differs || missing
}

/// Whether the project has a web app to build (`frontend/package.json`).
pub fn has_app(project_root: &Path) -> bool {
    project_root
        .join(FRONTEND_DIR)
        .join("package.json")
        .is_file()
}

/// Checks, before a deploy changes anything, that there is a web app and npm to build it.
pub fn preflight(project_root: &Path) -> Result<(), BuildError> {
    let dir = project_root.join(FRONTEND_DIR);
    if !dir.join("package.json").is_file() {
        return Err(BuildError::NoApp { dir });
    }
    which_npm().map(|_| ())
}

fn which_npm() -> Result<PathBuf, BuildError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("npm"))
        .find(|candidate| candidate.is_file())
        .ok_or(BuildError::NoNpm)
}

/// Builds the web app of `project_root` with `env` into `out_dir`.
pub async fn build(
    project_root: &Path,
    env: &[(String, String)],
    out_dir: &Path,
    progress: &dyn Progress,
) -> Result<BuiltSite, BuildError> {
    preflight(project_root)?;
    let npm = which_npm()?;
    let dir = project_root.join(FRONTEND_DIR);
    let lock_path = dir.join("package-lock.json");
    let lock = read_json(&lock_path)?;
    let installed = read_json(&dir.join("node_modules").join(".package-lock.json")).ok();
    if install_needed(&lock, installed.as_ref()) {
        progress.step("Installing the web app's packages (npm ci: node_modules does not match package-lock.json)");
        run(&npm, &["ci", "--no-audit", "--no-fund"], &dir, &[]).await?;
    }
    progress.step("Building the web app (npm run build)");
    let started = Instant::now();
    let out = out_dir.to_string_lossy().into_owned();
    run(
        &npm,
        &["run", "build", "--", "--outDir", &out, "--emptyOutDir"],
        &dir,
        env,
    )
    .await?;
    let site = BuiltSite::scan(out_dir)?;
    progress.note(&format!(
        "built {} file(s) in {:.1}s into {}",
        site.files.len(),
        started.elapsed().as_secs_f64(),
        out_dir.display()
    ));
    Ok(site)
}

fn read_json(path: &Path) -> Result<Value, BuildError> {
    let text = std::fs::read(path).map_err(|source| {
        BuildError::Site(SiteError::Read {
            path: path.to_path_buf(),
            source,
        })
    })?;
    serde_json::from_slice(&text).map_err(|source| BuildError::BadLock {
        path: path.to_path_buf(),
        source,
    })
}

/// Runs npm, its output captured and shown only when it fails. Inherited
/// `VITE_*` variables are dropped so the build gets exactly `env`.
async fn run(
    npm: &Path,
    args: &[&str],
    dir: &Path,
    env: &[(String, String)],
) -> Result<(), BuildError> {
    let command = format!("npm {}", args.join(" "));
    let mut process = tokio::process::Command::new(npm);
    process
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .env("NO_COLOR", "1")
        .env("npm_config_update_notifier", "false");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("VITE_") {
            process.env_remove(key);
        }
    }
    process.envs(env.iter().map(|(key, value)| (key, value)));
    let output = process.output().await.map_err(|source| BuildError::Spawn {
        command: command.clone(),
        dir: dir.to_path_buf(),
        source,
    })?;
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    // The end of the output says what went wrong.
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(40)..].join("\n");
    Err(BuildError::Failed {
        command,
        dir: dir.to_path_buf(),
        status: output.status.to_string(),
        output: tail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_build_gets_the_outputs_and_the_environment() {
        let outputs = BTreeMap::from([
            (
                "ApiEndpoint".to_owned(),
                "http://abc.execute-api.localhost:4566".to_owned(),
            ),
            (
                "CloudFrontDomain".to_owned(),
                "d1.cloudfront.localhost:4566".to_owned(),
            ),
            ("ImagesBucket".to_owned(), "images".to_owned()),
        ]);
        let env = build_env(&outputs, "dev");
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            env,
            [
                ("VITE_API_ENDPOINT", "http://abc.execute-api.localhost:4566"),
                ("VITE_CLOUDFRONT_DOMAIN", "d1.cloudfront.localhost:4566"),
                ("VITE_S3_BUCKET", "images"),
                ("VITE_ENVIRONMENT", "dev"),
            ]
        );
    }

    #[test]
    fn npm_ci_runs_only_when_node_modules_does_not_match_the_lock() {
        let lock = json!({"packages": {
            "": {"name": "app"},
            "node_modules/preact": {"version": "11.2.0", "integrity": "sha512-a"},
            "node_modules/vite": {"version": "8.3.8", "dev": true},
            "node_modules/@rolldown/binding-darwin-arm64": {"version": "1.0.0", "optional": true},
        }});
        let installed = |packages: Value| json!({"packages": packages});
        let matching = installed(json!({
            "node_modules/preact": {"version": "11.2.0", "integrity": "sha512-a"},
            "node_modules/vite": {"version": "8.3.8", "dev": true},
        }));
        let cases = [
            (
                "matches (the optional platform package absent)",
                Some(matching),
                false,
            ),
            ("never installed", None, true),
            ("no packages", Some(json!({})), true),
            (
                "a package at another version",
                Some(installed(json!({
                    "node_modules/preact": {"version": "11.1.0", "integrity": "sha512-b"},
                    "node_modules/vite": {"version": "8.3.8", "dev": true},
                }))),
                true,
            ),
            (
                "a package the lock needs is missing",
                Some(installed(json!({
                    "node_modules/preact": {"version": "11.2.0", "integrity": "sha512-a"},
                }))),
                true,
            ),
            (
                "a package the lock no longer has",
                Some(installed(json!({
                    "node_modules/preact": {"version": "11.2.0", "integrity": "sha512-a"},
                    "node_modules/vite": {"version": "8.3.8", "dev": true},
                    "node_modules/left-pad": {"version": "1.3.0"},
                }))),
                true,
            ),
        ];
        for (case, installed, expected) in cases {
            assert_eq!(
                install_needed(&lock, installed.as_ref()),
                expected,
                "{case}"
            );
        }
    }
}
