//! Steps 1 and 2: package the Lambda (or take a prebuilt zip) and make sure
//! the artifact store holds it, uploading only what is not there yet.

use std::io::Read;
use std::path::Path;

use anyhow::Context;

use crate::aws::{Aws, BucketSetup, StackDescription, StoredHash, artifact_bucket_name, tampered};
use crate::config::Architecture;
use crate::package::{self, Artifact, BuildEvent, BuildRequest, GlibcVersion, PackageError};
use crate::progress::Progress;
use crate::project::Project;
use crate::template::ArtifactLocation;

/// Shows packaging events as progress lines.
fn report_build(progress: &dyn Progress) -> impl FnMut(BuildEvent) + '_ {
    move |event| {
        match event {
        BuildEvent::BuildStarted { command } => progress.note(&format!("running {command}")),
        BuildEvent::BuildFinished { elapsed, .. } => {
            progress.note(&format!("built in {:.1}s", elapsed.as_secs_f64()));
        }
        BuildEvent::ElfChecked { report } => progress.note(&format!("binary: {report}")),
        BuildEvent::Packaged { artifact } => {
            progress.note(&format!("{} ({})", artifact.key(), artifact.size_report()));
        }
        BuildEvent::Reused { artifact } => progress.note(&format!(
            "{} ({}): the binary is unchanged since it was packaged, so it was not read, checked or zipped again",
            artifact.key(),
            artifact.size_report()
        )),
        BuildEvent::Warning(warning) => progress.warn(&warning.to_string()),
    }
    }
}

/// Builds `lambda/` for `architecture` with the Cargo `profile` and packages it
/// (`pixelctl build`, deploy step 1).
pub fn build(
    project: &Project,
    architecture: Architecture,
    profile: &str,
    progress: &dyn Progress,
) -> Result<Artifact, PackageError> {
    progress.step("Packaging the Lambda");
    let request = BuildRequest {
        profile: profile.to_owned(),
        // Cargo's own target directory, whatever CARGO_TARGET_DIR or build.target-dir say.
        target_dir: crate::package::cargo_build::cargo_target_dir(&project.root)?,
        ..BuildRequest::new(&project.root, architecture)
    };
    package::package(&request, &mut report_build(progress))
}

/// Checks and packages a prebuilt `bootstrap`, or a zip from `pixelctl build`
/// (`--artifact`), so CI can build once and deploy the same bytes to several
/// environments. The zip is made anew, reproducibly, so its hash is the same.
pub fn prebuilt(
    project: &Project,
    path: &Path,
    architecture: Architecture,
    progress: &dyn Progress,
) -> anyhow::Result<Artifact> {
    progress.step(&format!("Using the prebuilt artifact {}", path.display()));
    let out_dir = project.build_dir();
    package::packaged_once(
        path,
        (architecture, GlibcVersion::PROVIDED_AL2023),
        &out_dir,
        &mut report_build(progress),
        |reporter| package_prebuilt(path, architecture, &out_dir, reporter),
    )
}

/// Reads a prebuilt `bootstrap` or zip, checks the binary and zips it anew.
fn package_prebuilt(
    path: &Path,
    architecture: Architecture,
    out_dir: &Path,
    reporter: &mut dyn FnMut(BuildEvent),
) -> anyhow::Result<Artifact> {
    let bytes = fs_err::read(path)?;
    let binary = if bytes.starts_with(b"\x7fELF") {
        bytes
    } else {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).with_context(|| {
            format!("`{}` is neither a zip nor an ELF binary; pass a zip made by `pixelctl build` or a `bootstrap`", path.display())
        })?;
        let mut entry = archive.by_name(package::ENTRY_NAME).with_context(|| {
            format!(
                "`{}` has no `{}` entry; pass a zip made by `pixelctl build`",
                path.display(),
                package::ENTRY_NAME
            )
        })?;
        let mut binary = Vec::new();
        entry
            .read_to_end(&mut binary)
            .with_context(|| format!("cannot read `bootstrap` from `{}`", path.display()))?;
        binary
    };
    Ok(package::package_bootstrap(
        &binary,
        architecture,
        GlibcVersion::PROVIDED_AL2023,
        out_dir,
        reporter,
    )?)
}

/// Where the artifact lives in the store, uploading it if needed. When the
/// stack already runs this very artifact, the store is known to hold it and
/// nothing is called.
pub async fn store(
    aws: &Aws,
    artifact: &Artifact,
    stack: Option<&StackDescription>,
    progress: &dyn Progress,
) -> anyhow::Result<ArtifactLocation> {
    let key = artifact.key();
    let running = stack.filter(|stack| stack.parameters.get("ArtifactKey") == Some(&key));
    if let Some(bucket) = running.and_then(|stack| stack.parameters.get("ArtifactBucket")) {
        return Ok(ArtifactLocation {
            bucket: bucket.clone(),
            key,
        });
    }
    progress.step("Storing the artifact");
    let (account, _) = aws.caller_identity().await?;
    let bucket = artifact_bucket_name(&account, &aws.region);
    match aws.ensure_artifact_bucket(&bucket).await? {
        BucketSetup::Created => progress.note(&format!(
            "created the artifact bucket s3://{bucket} (versioned, encrypted, private, TLS only)"
        )),
        BucketSetup::Repaired => progress.warn(&format!(
            "the artifact bucket s3://{bucket} was not versioned (its setup never finished): applied its settings now"
        )),
        BucketSetup::Ready => {}
    }
    match aws.stored_hash(&bucket, &key, &artifact.sha256).await? {
        StoredHash::Matches => progress.note(&format!(
            "s3://{bucket}/{key} is already stored (sha256 checked)"
        )),
        StoredHash::Differs { found } => {
            return Err(tampered(&bucket, &key, &artifact.sha256, &found));
        }
        StoredHash::Missing => {
            let bytes = fs_err::read(&artifact.zip_path)?;
            aws.put_artifact(&bucket, &key, bytes).await?;
            progress.note(&format!("uploaded s3://{bucket}/{key}"));
        }
    }
    Ok(ArtifactLocation { bucket, key })
}
