//! `deploy` as a pipeline of named steps (package, store, preflight, plan,
//! show, confirm, apply, outputs, CloudFront, web app, health), each its own function.

pub mod artifact;
pub mod cdn;
pub mod dotenv;
pub mod health;
pub mod hotswap;
pub mod keys;
pub mod model_check;
pub mod watch;
pub mod web_app;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use anyhow::anyhow;
use serde::Serialize;

use crate::aws::{Aws, ChangeSetRequest, ChangeSetStatus, StackDescription, StoredHash, tampered};
use crate::config::{DeployMode, Environment};
use crate::error::CommandError;
use crate::frontend::publish::PublishReport;
use crate::local_hosts::LocalAws;
use crate::package::Artifact;
use crate::plan::{ChangeSetPlan, parameter_diff};
use crate::progress::{Progress, Prompter};
use crate::project::Project;
use crate::release::{self, ArtifactRef, ReleaseKind, ReleaseRecord, ReleaseSource};
use crate::reviewed_plan::{ReviewedPlan, StackMarker};
use crate::stack_policy;
use crate::stack_state::{self, Preflight, Settled};
use crate::template::{ArtifactLocation, Parameters, Template, stack_tags};
use health::HealthReport;
use watch::{EventCursor, operation_token, watch_stack};
pub use web_app::WebApp;

/// How long a function may take to apply new code before the run gives up.
pub const FUNCTION_UPDATE_TIMEOUT: Duration = Duration::from_mins(5);

/// Every change set pixelctl makes is named with this prefix, so a later run
/// can recognise and remove the ones it left behind.
pub const CHANGE_SET_PREFIX: &str = "pixelctl-";

/// How far a run goes and what it may do without asking.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    pub yes: bool,
    /// Stop after showing the plan and keep the change set.
    pub no_execute: bool,
    /// Stop after showing the plan and delete the change set (`pixelctl diff`).
    pub diff_only: bool,
    pub wait_cdn: bool,
    pub cdn_timeout: Duration,
    pub require_healthy: bool,
    pub health_url: Option<String>,
    pub health_timeout: Duration,
    pub write_env_file: bool,
    /// How long to wait for CloudFront to invalidate the web app's changed paths.
    pub invalidation_timeout: Duration,
    /// Whether a question can be asked (a terminal on stdin and stderr).
    pub interactive: bool,
    /// `deploy --hotswap`: swap the functions' code when only it differs.
    pub hotswap: bool,
    /// `--express` / `--standard`; `None`: the environment's `deploy_mode`.
    pub deploy_mode: Option<DeployMode>,
    /// `--allow-replace`: stateful resources a protected environment may replace or remove.
    pub allow_replace: Vec<String>,
}

/// What a deploy did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Created,
    Updated,
    NoChanges,
    /// Planned only (`diff`, `--no-execute`).
    Planned,
    /// The stack was unchanged, but its functions ran hotswapped code: restored.
    Healed,
    /// `--hotswap`: the functions' code replaced directly.
    Hotswapped,
}

/// The result of `deploy` and `diff`: printed as a summary or as one JSON object.
#[derive(Debug, Clone, Serialize)]
pub struct DeployReport {
    pub environment: String,
    pub stack_name: String,
    pub outcome: Outcome,
    /// `express` or `standard`: how CloudFormation ran the change set.
    pub deploy_mode: DeployMode,
    pub stack_status: Option<String>,
    pub duration_seconds: f64,
    pub artifact: ArtifactRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_set: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<ChangeSetPlan>,
    pub outputs: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frontend_env: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloudfront: Option<String>,
    /// The web app published (or restored) after the stack.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frontend: Option<PublishReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthReport>,
    /// The ledger entry this deploy made, if it changed the stack.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_tag: Option<String>,
    /// What a kept change set was made from (`--no-execute`, `plan`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review: Option<ReviewedPlan>,
}

impl fmt::Display for DeployReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let outcome = match self.outcome {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::NoChanges => "no changes",
            Outcome::Planned => "planned, not applied",
            Outcome::Healed => "functions restored to the stack's declared code",
            Outcome::Hotswapped => {
                "hotswapped (code only; the stack still declares the previous code)"
            }
        };
        if let (Outcome::Planned, Some(plan)) = (self.outcome, &self.plan) {
            writeln!(f, "{plan}")?;
        }
        writeln!(f, "stack     {} ({})", self.stack_name, self.environment)?;
        writeln!(
            f,
            "result    {outcome}{}",
            self.stack_status
                .as_ref()
                .map(|status| format!(", {status}"))
                .unwrap_or_default()
        )?;
        writeln!(f, "duration  {:.1}s", self.duration_seconds)?;
        writeln!(f, "artifact  sha256:{}", self.artifact.sha256)?;
        if let Some(sequence) = self.release {
            writeln!(f, "release   #{sequence}")?;
        }
        if let Some(tag) = &self.git_tag {
            writeln!(f, "git tag   {tag}")?;
        }
        if let Some(change_set) = &self.change_set {
            writeln!(f, "change set {change_set} (kept for review)")?;
            writeln!(
                f,
                "          apply it with: aws cloudformation execute-change-set --stack-name {} --change-set-name {change_set}\n          \
                 (for a plan file `pixelctl apply` checks first: `pixelctl plan {} --out plan.json`)",
                self.stack_name, self.environment
            )?;
        }
        if let Some(status) = &self.cloudfront {
            writeln!(f, "cdn       {status}")?;
        }
        if !self.outputs.is_empty() {
            writeln!(f, "outputs")?;
            let width = self.outputs.keys().map(String::len).max().unwrap_or(0);
            for (key, value) in &self.outputs {
                writeln!(f, "  {key:<width$}  {value}")?;
            }
        }
        if let Some(path) = &self.frontend_env {
            writeln!(f, "wrote     {}", path.display())?;
        }
        if let Some(web_app) = &self.frontend {
            write!(f, "{web_app}")?;
        }
        if let Some(health) = &self.health {
            let detail = health.detail.clone().unwrap_or_default();
            let verdict = if !health.checked {
                "not checked"
            } else if health.healthy {
                "healthy"
            } else {
                "UNHEALTHY"
            };
            let url = health
                .url
                .as_deref()
                .map(|url| format!(" {url}"))
                .unwrap_or_default();
            writeln!(f, "health    {verdict}{url}: {detail}")?;
        }
        Ok(())
    }
}

/// Where the Lambda's code comes from.
#[derive(Debug, Clone)]
pub enum ArtifactSource {
    /// Packaged here: stored (if new) before the plan.
    Local(Artifact),
    /// Already in an artifact store (rollback, promote): the exact bytes of a release.
    Stored(ArtifactRef),
}

impl ArtifactSource {
    fn sha256(&self) -> &str {
        match self {
            Self::Local(artifact) => &artifact.sha256,
            Self::Stored(stored) => &stored.sha256,
        }
    }
}

/// What kind of release a run makes, and from where.
#[derive(Debug, Clone)]
pub struct ReleaseIntent {
    pub kind: ReleaseKind,
    pub source: Option<ReleaseSource>,
}

/// Everything the pipeline works on.
pub struct Deployment<'a> {
    pub aws: &'a Aws,
    pub project: &'a Project,
    pub environment: Environment,
    pub template: Template,
    /// Parameter values to deploy as they are (a rollback's); `None`: the
    /// environment's own, pointing at the artifact.
    pub parameters: Option<Parameters>,
    pub artifact: ArtifactSource,
    pub release: ReleaseIntent,
    /// What happens to the web app once the stack is deployed.
    pub web_app: WebApp,
    pub options: DeployOptions,
    pub progress: &'a dyn Progress,
    /// Asks the questions (confirm the plan, approve a repair).
    pub prompter: &'a dyn Prompter,
}

/// What the plan step found.
enum Planned {
    /// The stack already runs what this deploy asks for.
    Nothing(StackDescription),
    /// A change set ready to show, confirm and apply.
    ChangeSet {
        name: String,
        id: String,
        changes: Vec<crate::plan::ResourceChange>,
    },
}

/// Fails before any work when the environment wants a confirmation that
/// cannot be asked for: never hang, never skip it silently.
pub fn require_answerable(
    environment: &Environment,
    options: &DeployOptions,
) -> Result<(), CommandError> {
    let needs_answer =
        environment.confirm_changes && !options.yes && !options.no_execute && !options.diff_only;
    if needs_answer && !options.interactive {
        return Err(CommandError::usage(anyhow!(
            "environment `{}` asks to confirm changes before applying them, and there is no terminal to ask on; \
             pass --yes to apply without asking, or --no-execute to stop after the plan",
            environment.name
        )));
    }
    Ok(())
}

/// What preflight found: the stack to update, or that one must be created.
struct Target {
    existing: Option<StackDescription>,
    create: bool,
}

fn change_set_name() -> String {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{CHANGE_SET_PREFIX}{}-{:03}",
        now.as_secs(),
        now.subsec_millis()
    )
}

impl Deployment<'_> {
    fn stack_name(&self) -> &str {
        &self.environment.stack_name
    }

    /// A protected environment (prod): destructive repairs need a person at a terminal.
    fn is_protected(&self) -> bool {
        self.environment.termination_protection
    }

    /// Asks before a destructive repair; `--yes` answers outside protected environments.
    fn approve_repair(&self, question: &str) -> Result<bool, CommandError> {
        if self.options.yes && !self.is_protected() {
            return Ok(true);
        }
        if !self.options.interactive {
            return Err(CommandError::usage(anyhow!(
                "{question} needs a confirmation and there is no terminal to ask on{}",
                if self.is_protected() {
                    "; for a protected environment run it from a terminal"
                } else {
                    "; pass --yes to allow it"
                }
            )));
        }
        self.prompter
            .confirm(question)
            .map_err(CommandError::Failed)
    }

    /// Preflight: read the stack's state and get it to one a change set can apply to.
    async fn preflight(&self, cursor: &mut EventCursor) -> Result<Target, CommandError> {
        let stack = self.stack_name().to_owned();
        let env = self.environment.name.clone();
        loop {
            let existing = self.aws.describe_stack(&stack).await?;
            let status = existing.as_ref().map(|stack| stack.status.clone());
            match stack_state::preflight(status.as_deref()) {
                Preflight::Create | Preflight::CreateFromReview => {
                    return Ok(Target {
                        existing: None,
                        create: true,
                    });
                }
                Preflight::Update => {
                    return Ok(Target {
                        existing,
                        create: false,
                    });
                }
                Preflight::WaitForSettle => {
                    self.progress.step(&format!(
                        "Stack {stack} is {}: waiting for that operation to settle",
                        status.unwrap_or_default()
                    ));
                    *cursor = EventCursor::join_operation(self.aws, &stack, self.progress).await?;
                    watch_stack(self.aws, &stack, 0, cursor, self.progress).await?;
                }
                Preflight::DeleteFailedCreate => {
                    self.progress.warn(&format!(
                        "stack {stack} is in ROLLBACK_COMPLETE: its first create failed, and such a stack can only be deleted"
                    ));
                    if self.options.diff_only || self.options.no_execute {
                        return Err(CommandError::Failed(anyhow!(
                            "stack {stack} is in ROLLBACK_COMPLETE; `pixelctl deploy` deletes and recreates it (it holds no resources)"
                        )));
                    }
                    if !self.approve_repair(&format!(
                        "Delete the failed stack {stack} and create it again?"
                    ))? {
                        return Err(CommandError::Rejected(format!(
                            "left stack {stack} in ROLLBACK_COMPLETE"
                        )));
                    }
                    self.progress
                        .step(&format!("Deleting the failed stack {stack}"));
                    let token = operation_token("delete");
                    *cursor = EventCursor::before_operation(self.aws, &stack, &token).await?;
                    self.aws.delete_stack(&stack, &token).await?;
                    let watched = watch_stack(self.aws, &stack, 0, cursor, self.progress).await?;
                    if watched.settled != Settled::Succeeded {
                        return Err(CommandError::Failed(anyhow!(
                            "could not delete the failed stack {stack}: it is {}",
                            watched.stack.status
                        )));
                    }
                }
                Preflight::ContinueRollback => {
                    self.progress.warn(&format!(
                        "stack {stack} is in UPDATE_ROLLBACK_FAILED: an update failed and so did its rollback; \
                         ContinueUpdateRollback finishes the rollback"
                    ));
                    if self.options.diff_only || self.options.no_execute {
                        return Err(CommandError::Failed(anyhow!(
                            "stack {stack} is in UPDATE_ROLLBACK_FAILED; run `pixelctl deploy` (or `pixelctl rollback`) to continue the rollback first"
                        )));
                    }
                    if !self.approve_repair(&format!("Continue the rollback of {stack}?"))? {
                        return Err(CommandError::Rejected(format!(
                            "left stack {stack} in UPDATE_ROLLBACK_FAILED"
                        )));
                    }
                    let token = operation_token("continue-rollback");
                    *cursor = EventCursor::before_operation(self.aws, &stack, &token).await?;
                    self.aws
                        .continue_update_rollback(&stack, &[], &token)
                        .await?;
                    let watched = watch_stack(self.aws, &stack, 0, cursor, self.progress).await?;
                    // One attempt: a rollback that failed fails again until its cause is
                    // fixed, so asking (or --yes) again would loop for ever.
                    if watched.stack.status == "UPDATE_ROLLBACK_FAILED" {
                        let failures = stack_state::rollback_failures(&watched.events);
                        return Err(CommandError::Failed(anyhow!(
                            "the rollback of {stack} failed again; the stack is still UPDATE_ROLLBACK_FAILED and nothing was deployed{}",
                            stack_state::rollback_failed_advice(&stack, &env, &failures)
                        )));
                    }
                }
                Preflight::Refuse(message) => return Err(CommandError::Failed(anyhow!(message))),
            }
        }
    }

    /// Before changing anything: can the account give the functions the reserved
    /// concurrency this deploy asks for (the API's and the worker's together)? Asked
    /// only when a reservation would change.
    async fn check_concurrency(&self, target: &Target) -> Result<(), CommandError> {
        let functions = [
            (
                "ReservedConcurrency",
                "api",
                self.environment.lambda.reserved_concurrency,
            ),
            (
                "WorkerReservedConcurrency",
                "worker",
                self.environment.worker.reserved_concurrency,
            ),
        ];
        let parameter = |values: &std::collections::BTreeMap<String, String>, name: &str| {
            values.get(name).and_then(|value| value.parse::<u32>().ok())
        };
        let mut wanted = 0;
        let mut changes = false;
        for (name, _, configured) in functions {
            let asked = match &self.parameters {
                Some(parameters) => parameter(&parameters.values, name).unwrap_or(0),
                None => configured,
            };
            let in_place = target
                .existing
                .as_ref()
                .and_then(|stack| parameter(&stack.parameters, name));
            changes |= asked != 0 && in_place != Some(asked);
            wanted += asked;
        }
        if !changes {
            return Ok(());
        }
        let account = self.aws.account_concurrency().await?;
        let mut current = 0;
        for (_, suffix, _) in functions {
            let function = format!("{}-{suffix}", self.stack_name());
            current += self.aws.function_reservation(&function).await?;
        }
        match crate::concurrency::reservation_problem(account, current, wanted) {
            Some(problem) => Err(CommandError::Failed(anyhow!(
                problem.message(&self.environment.name, &self.aws.region)
            ))),
            None => Ok(()),
        }
    }

    /// Whether the stack already runs exactly this template, these parameters
    /// and tags: a couple of reads instead of a change set.
    async fn already_deployed(
        &self,
        existing: &StackDescription,
        parameters: &Parameters,
    ) -> anyhow::Result<bool> {
        let template = &self.template;
        if !stack_state::runs_what_it_declares(&existing.status) {
            // A failed express update declares the new template and parameters while
            // some resources still run the old ones: only a change set tells.
            return Ok(false);
        }
        if !template.secret_parameters().is_empty() {
            // NoEcho values come back masked and can't be compared.
            return Ok(false);
        }
        if existing.parameters != parameters.values
            || existing.tags != stack_tags(&self.environment)
        {
            return Ok(false);
        }
        Ok(self.aws.template_body(self.stack_name()).await? == template.body)
    }

    /// Drops a change set nobody will execute, and the empty stack a CREATE one leaves.
    async fn discard(&self, change_set: &str, create: bool) -> anyhow::Result<()> {
        self.aws
            .delete_change_set(self.stack_name(), change_set)
            .await?;
        if create {
            self.aws
                .delete_stack(self.stack_name(), &operation_token("discard"))
                .await?;
        }
        Ok(())
    }

    /// Runs the whole pipeline, one step a line.
    pub async fn run(self) -> Result<DeployReport, CommandError> {
        let started = Instant::now();
        let mut cursor = EventCursor::default();
        let target = self.read_stack(&mut cursor).await?;
        let location = self.store_artifact(&target).await?;
        let parameters = self.parameters_for(&location);
        let mut report = self.empty_report(&target, &location);
        let (name, changes) = match self.change_set(&target, &parameters).await? {
            Planned::Nothing(stack) => {
                report.outputs = stack.outputs.clone();
                if self.heal_code(&location).await? {
                    report.outcome = Outcome::Healed;
                    report.release = self.record_healed(&stack, &parameters, &location).await;
                }
                return Box::pin(self.finish(report, stack, started, false)).await;
            }
            Planned::ChangeSet { name, id, changes } => (name, (id, changes)),
        };
        let (id, changes) = changes;
        let plan = self.show(&target, &parameters, &name, changes);
        let total = plan.resources.len();
        report.plan = Some(plan);
        if self.options.diff_only || self.options.no_execute {
            report.review = (!self.options.diff_only)
                .then(|| self.review(&target, &location, &parameters, &name, &id));
            return self.stop_after_plan(report, &name, &target, started).await;
        }
        if let Some(plan) = &report.plan {
            self.guard_stateful(plan, &name, &target).await?;
        }
        self.confirm(&name, &target).await?;
        let watched = self.apply(&name, total, target.create, &mut cursor).await?;
        if watched.settled == Settled::Succeeded {
            self.heal_code(&location).await?;
        }
        report.release = self
            .record_release(&watched.stack, &parameters, &location, &watched)
            .await;
        self.check_applied(&watched)?;
        report.outcome = if target.create {
            Outcome::Created
        } else {
            Outcome::Updated
        };
        report.outputs = watched.stack.outputs.clone();
        Box::pin(self.finish(report, watched.stack, started, true)).await
    }

    /// Steps 1-2, preflight: read the stack, get it to a state a change set applies to, and
    /// check the account can give the functions their reserved concurrency.
    async fn read_stack(&self, cursor: &mut EventCursor) -> Result<Target, CommandError> {
        self.progress.step(&format!(
            "Reading stack {} in {}",
            self.stack_name(),
            self.aws.region
        ));
        let target = self.preflight(cursor).await?;
        self.check_concurrency(&target).await?;
        Ok(target)
    }

    /// Step 3: the artifact in the store, stored if new or checked if a release's.
    async fn store_artifact(&self, target: &Target) -> Result<ArtifactLocation, CommandError> {
        let stored = match &self.artifact {
            ArtifactSource::Local(local) => {
                return Ok(artifact::store(
                    self.aws,
                    local,
                    target.existing.as_ref(),
                    self.progress,
                )
                .await?);
            }
            ArtifactSource::Stored(stored) => stored,
        };
        // The exact bytes the release ran, checked before the stack may use them.
        match self
            .aws
            .stored_hash(&stored.bucket, &stored.key, &stored.sha256)
            .await?
        {
            StoredHash::Matches => Ok(ArtifactLocation {
                bucket: stored.bucket.clone(),
                key: stored.key.clone(),
            }),
            StoredHash::Missing => Err(CommandError::Failed(anyhow!(
                "the artifact s3://{}/{} is no longer in the store (pruned?); it cannot be deployed again",
                stored.bucket,
                stored.key
            ))),
            StoredHash::Differs { found } => Err(CommandError::Failed(tampered(
                &stored.bucket,
                &stored.key,
                &stored.sha256,
                &found,
            ))),
        }
    }

    /// The parameter values to deploy: a rollback's as they are, or the environment's.
    fn parameters_for(&self, location: &ArtifactLocation) -> Parameters {
        match &self.parameters {
            Some(parameters) => parameters.clone(),
            None => Parameters::for_environment(&self.environment, location),
        }
    }

    /// The report before anything is planned: "no changes" until a step says otherwise.
    fn empty_report(&self, target: &Target, location: &ArtifactLocation) -> DeployReport {
        DeployReport {
            environment: self.environment.name.clone(),
            stack_name: self.stack_name().to_owned(),
            outcome: Outcome::NoChanges,
            deploy_mode: if self.express() {
                DeployMode::Express
            } else {
                DeployMode::Standard
            },
            stack_status: target.existing.as_ref().map(|stack| stack.status.clone()),
            duration_seconds: 0.0,
            artifact: ArtifactRef {
                bucket: location.bucket.clone(),
                key: location.key.clone(),
                sha256: self.artifact.sha256().to_owned(),
            },
            change_set: None,
            plan: None,
            outputs: BTreeMap::new(),
            frontend_env: None,
            cloudfront: None,
            frontend: None,
            health: None,
            release: None,
            git_tag: None,
            review: None,
        }
    }

    /// Step 4: plan. A couple of reads when nothing changed, else a change set.
    async fn change_set(
        &self,
        target: &Target,
        parameters: &Parameters,
    ) -> Result<Planned, CommandError> {
        let stack = self.stack_name();
        self.progress.step("Planning");
        if let Some(existing) = &target.existing
            && self.already_deployed(existing, parameters).await?
        {
            self.progress.note("no changes: the stack already runs this template, these parameters and this artifact");
            return Ok(Planned::Nothing(existing.clone()));
        }
        if target.existing.is_some() {
            let change_sets = self
                .aws
                .change_sets_with_prefix(stack, CHANGE_SET_PREFIX)
                .await?;
            for stale in stack_state::stale_change_sets(&change_sets) {
                self.progress.note(&format!(
                    "removing change set {stale} left by an earlier run"
                ));
                self.aws.delete_change_set(stack, stale).await?;
            }
        }
        let name = change_set_name();
        let id = self
            .aws
            .create_change_set(&ChangeSetRequest {
                stack_name: stack,
                change_set_name: &name,
                create: target.create,
                template_body: &self.template.body,
                parameters: &parameters.values,
                tags: &stack_tags(&self.environment),
                description: &format!(
                    "pixelctl {} deploy of {}{}",
                    env!("CARGO_PKG_VERSION"),
                    self.environment.name,
                    if self.options.no_execute {
                        stack_state::KEPT_FOR_REVIEW
                    } else {
                        ""
                    }
                ),
                express: self.express(),
            })
            .await?;
        match self
            .aws
            .wait_for_change_set(stack, &name, crate::aws::CHANGE_SET_TIMEOUT)
            .await?
        {
            ChangeSetStatus::Ready(changes) => Ok(Planned::ChangeSet { name, id, changes }),
            ChangeSetStatus::Empty => {
                self.progress
                    .note("no changes: CloudFormation found nothing to change");
                self.aws.delete_change_set(stack, &name).await?;
                Ok(Planned::Nothing(
                    target.existing.clone().unwrap_or_default(),
                ))
            }
            ChangeSetStatus::Failed(reason) => {
                self.discard(&name, target.create).await?;
                Err(CommandError::Failed(anyhow!(
                    "CloudFormation could not plan the change: {reason}"
                )))
            }
        }
    }

    /// Step 5: show the plan (before the question, even with `--quiet`).
    fn show(
        &self,
        target: &Target,
        parameters: &Parameters,
        name: &str,
        changes: Vec<crate::plan::ResourceChange>,
    ) -> ChangeSetPlan {
        let secret = self.template.secret_parameters();
        let old_parameters = target
            .existing
            .as_ref()
            .map(|stack| stack.parameters.clone())
            .unwrap_or_default();
        let plan = ChangeSetPlan {
            stack_name: self.stack_name().to_owned(),
            change_set_name: name.to_owned(),
            change_set_type: if target.create { "create" } else { "update" }.to_owned(),
            resources: changes,
            // A new stack's parameters are all in `pixelctl render`; the diff is for updates.
            parameters: if target.create {
                Vec::new()
            } else {
                parameter_diff(&old_parameters, &parameters.values, &secret)
            },
        };
        if !self.options.diff_only {
            let text = plan.to_string();
            self.progress.report(if self.will_ask() {
                crate::progress::Event::PlanToConfirm(&text)
            } else {
                crate::progress::Event::Plan(&text)
            });
        }
        plan
    }

    /// What a kept change set was made from, for `pixelctl plan --out` and `apply`.
    fn review(
        &self,
        target: &Target,
        location: &ArtifactLocation,
        parameters: &Parameters,
        name: &str,
        id: &str,
    ) -> ReviewedPlan {
        ReviewedPlan {
            format: crate::reviewed_plan::FORMAT,
            environment: self.environment.name.clone(),
            stack_name: self.stack_name().to_owned(),
            region: self.aws.region.clone(),
            change_set_name: name.to_owned(),
            change_set_id: id.to_owned(),
            create: target.create,
            artifact: ArtifactRef {
                bucket: location.bucket.clone(),
                key: location.key.clone(),
                sha256: self.artifact.sha256().to_owned(),
            },
            template_sha256: crate::digest::sha256_hex(self.template.body.as_bytes()),
            parameters_sha256: crate::reviewed_plan::parameters_sha256(
                &parameters.values,
                &self.template.secret_parameters(),
            ),
            stack: target.existing.as_ref().map(StackMarker::of),
            plan: None,
        }
    }

    /// Executes exactly the change set of a reviewed plan, then everything a deploy does
    /// after it (heal, ledger, CloudFront, `.env`, web app, health); refuses when the
    /// stack changed since the plan or the change set is gone.
    pub async fn apply_reviewed(self, review: &ReviewedPlan) -> Result<DeployReport, CommandError> {
        let started = Instant::now();
        let stack = self.stack_name();
        self.progress.step(&format!(
            "Checking stack {stack} and change set {} against the plan",
            review.change_set_name
        ));
        let existing = self.aws.describe_stack(stack).await?;
        let live = existing.as_ref().map(StackMarker::of);
        let change_set = self
            .aws
            .reviewed_change_set(stack, &review.change_set_id)
            .await?;
        crate::reviewed_plan::check(review, live.as_ref(), change_set.as_ref())
            .map_err(|message| CommandError::Failed(anyhow!(message)))?;
        // The same guard as a deploy's: a reviewed plan is no way around it.
        if self.is_protected()
            && let crate::aws::ChangeSetStatus::Ready(resources) = self
                .aws
                .wait_for_change_set(
                    stack,
                    &review.change_set_name,
                    crate::aws::CHANGE_SET_TIMEOUT,
                )
                .await?
        {
            let plan = ChangeSetPlan {
                stack_name: stack.to_owned(),
                change_set_name: review.change_set_name.clone(),
                change_set_type: if review.create { "create" } else { "update" }.to_owned(),
                resources,
                parameters: Vec::new(),
            };
            if let Some((named, flags)) = self.stateful_losses(&plan) {
                return Err(CommandError::Failed(anyhow!(
                    "refused: this plan would lose stateful resources of {} (termination_protection is on): {named}; \
                     nothing changed and the change set is kept. If that is intended, apply again with {flags}",
                    self.environment.name,
                )));
            }
        }
        let target = Target {
            existing: existing.filter(|_| !review.create),
            create: review.create,
        };
        let location = self.store_artifact(&target).await?;
        let parameters = self.parameters_for(&location);
        let mut report = self.empty_report(&target, &location);
        let mut cursor = EventCursor::default();
        let total = review
            .plan
            .as_ref()
            .and_then(|plan| plan["resources"].as_array())
            .map_or(0, Vec::len);
        let watched = self
            .apply(&review.change_set_name, total, review.create, &mut cursor)
            .await?;
        if watched.settled == Settled::Succeeded {
            self.heal_code(&location).await?;
        }
        report.release = self
            .record_release(&watched.stack, &parameters, &location, &watched)
            .await;
        self.check_applied(&watched)?;
        report.outcome = if review.create {
            Outcome::Created
        } else {
            Outcome::Updated
        };
        report.outputs = watched.stack.outputs.clone();
        Box::pin(self.finish(report, watched.stack, started, true)).await
    }

    /// Whether this run uses CloudFormation's express mode (the environment's
    /// `deploy_mode`, or `--express` / `--standard`).
    fn express(&self) -> bool {
        self.options
            .deploy_mode
            .unwrap_or(self.environment.deploy_mode)
            == DeployMode::Express
    }

    /// Whether this run asks before applying.
    fn will_ask(&self) -> bool {
        self.environment.confirm_changes && !self.options.yes && !self.options.no_execute
    }

    /// Ends a run that only plans: `diff` drops the change set, `--no-execute` keeps it.
    async fn stop_after_plan(
        &self,
        mut report: DeployReport,
        name: &str,
        target: &Target,
        started: Instant,
    ) -> Result<DeployReport, CommandError> {
        if self.options.diff_only {
            self.discard(name, target.create).await?;
        } else {
            report.change_set = Some(name.to_owned());
        }
        report.outcome = Outcome::Planned;
        report.duration_seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// Step 6a, guard: a protected environment (`termination_protection`) never replaces
    /// or removes its images bucket, distribution or log groups unless `--allow-replace`
    /// names them; a refused change set is deleted and nothing changes.
    async fn guard_stateful(
        &self,
        plan: &ChangeSetPlan,
        name: &str,
        target: &Target,
    ) -> Result<(), CommandError> {
        let Some((named, flags)) = self.stateful_losses(plan) else {
            return Ok(());
        };
        self.discard(name, target.create).await?;
        Err(CommandError::Failed(anyhow!(
            "refused: this change would lose stateful resources of {} (termination_protection is on): {named}; \
             the change set was deleted and nothing changed. If that is intended, deploy again with {flags}",
            self.environment.name,
        )))
    }

    /// In a protected environment, the stateful resources `plan` would replace or
    /// remove that `--allow-replace` does not name (described), and the flags that
    /// would allow them; `None` when there are none.
    fn stateful_losses(&self, plan: &ChangeSetPlan) -> Option<(String, String)> {
        if !self.is_protected() {
            return None;
        }
        let losses = plan.unallowed_losses(&self.options.allow_replace);
        if losses.is_empty() {
            return None;
        }
        let named: Vec<String> = losses
            .iter()
            .map(|change| {
                format!(
                    "{} ({}, {})",
                    change.logical_id,
                    change.resource_type,
                    if change.action == crate::plan::Action::Remove {
                        "removed"
                    } else {
                        "replaced: a new resource, its data or history gone"
                    }
                )
            })
            .collect();
        let flags: Vec<String> = losses
            .iter()
            .map(|change| format!("--allow-replace {}", change.logical_id))
            .collect();
        Some((named.join(", "), flags.join(" ")))
    }

    /// Step 6: confirm, where the environment asks to; a "no" deletes the change set.
    async fn confirm(&self, name: &str, target: &Target) -> Result<(), CommandError> {
        if !self.will_ask() {
            return Ok(());
        }
        let stack = self.stack_name();
        let question = format!("Apply these changes to {stack}?");
        let approved = self.options.interactive
            && self
                .prompter
                .confirm(&question)
                .map_err(CommandError::Failed)?;
        if approved {
            return Ok(());
        }
        self.discard(name, target.create).await?;
        Err(CommandError::Rejected(format!(
            "not applied: the change set was deleted and {stack} is unchanged"
        )))
    }

    /// Step 7: execute the change set and watch it settle (Ctrl-C leaves it running).
    async fn apply(
        &self,
        name: &str,
        total: usize,
        create: bool,
        cursor: &mut EventCursor,
    ) -> Result<watch::Watched, CommandError> {
        let stack = self.stack_name();
        self.progress.step(&format!("Applying change set {name}"));
        let token = operation_token("execute");
        *cursor = EventCursor::before_operation(self.aws, stack, &token)
            .await?
            .for_change_set(name);
        let lifted = self.lift_stack_policy(create).await?;
        // Express mode's default, stated: a failed update is left as it failed. A first
        // create still rolls back, so a failure never leaves a half-made stack.
        self.aws
            .execute_change_set(stack, name, &token, self.express() && !create)
            .await?;
        tokio::select! {
            watched = watch_stack(self.aws, stack, total, cursor, self.progress) => {
                // Restored however the watch ended, a failed read of the events included.
                if lifted {
                    self.restore_stack_policy().await;
                }
                Ok(watched?)
            }
            _ = tokio::signal::ctrl_c() => {
                self.progress.report(crate::progress::Event::WatchFinished);
                Err(CommandError::Interrupted(format!(
                    "interrupted: the stack operation continues in AWS (it is not recorded as a release).\n  \
                     follow it:    pixelctl deploy {env} (waits for it to settle, showing its events)\n  \
                     or:           aws cloudformation describe-stack-events --stack-name {stack}\n  \
                     roll it back: pixelctl rollback {env} (cancels an update in progress)",
                    env = self.environment.name
                )))
            }
        }
    }

    /// Before a protected stack's update: its stack policy, lifted for the resources
    /// `--allow-replace` names, for this update alone (set on every update, so a stack
    /// made before pixelctl set policies gets one too); whether anything was lifted.
    async fn lift_stack_policy(&self, create: bool) -> Result<bool, CommandError> {
        if !self.is_protected() || create {
            return Ok(false);
        }
        let lifted = &self.options.allow_replace;
        self.aws
            .set_stack_policy(self.stack_name(), &stack_policy::guard(lifted))
            .await?;
        if !lifted.is_empty() {
            self.progress.note(&format!(
                "stack policy lifted for {} for this update",
                lifted.join(", ")
            ));
        }
        Ok(!lifted.is_empty())
    }

    /// After an update with `--allow-replace`: the whole guard again. A failure is
    /// warned about; the next update of the stack sets the policy anyway.
    async fn restore_stack_policy(&self) {
        let restored = self
            .aws
            .set_stack_policy(self.stack_name(), &stack_policy::guard(&[]))
            .await;
        match restored {
            Ok(()) => self.progress.note("stack policy restored"),
            Err(error) => self.progress.warn(&format!(
                "the stack policy is still lifted for {} ({error:#}); the next deploy of {} restores it",
                self.options.allow_replace.join(", "),
                self.environment.name
            )),
        }
    }

    /// Step 7b, heal: make the functions run the code the stack declares. CloudFormation
    /// leaves code swapped in by `deploy --hotswap` in place when the template and the
    /// parameters did not change; returns whether a function had to be restored.
    async fn heal_code(&self, location: &ArtifactLocation) -> Result<bool, CommandError> {
        if self.options.diff_only || self.options.no_execute {
            return Ok(false);
        }
        // Both functions read at once: this is on every deploy's path, no-change included.
        let names = crate::hotswap::function_names(self.stack_name());
        let reads = names
            .iter()
            .map(|function| self.aws.function_code_sha256(function));
        let running: Vec<(String, String)> = futures_util::future::try_join_all(reads)
            .await?
            .into_iter()
            .zip(names)
            .filter_map(|(sha, function)| sha.map(|sha| (function, sha)))
            .collect();
        let drift = crate::hotswap::code_drift(self.artifact.sha256(), &running);
        for swapped in &drift {
            self.progress.note(&format!(
                "{} runs code swapped in outside CloudFormation ({}): restoring the declared artifact",
                swapped.function, swapped.running
            ));
            self.aws
                .update_function_code(
                    &swapped.function,
                    &location.bucket,
                    &location.key,
                    FUNCTION_UPDATE_TIMEOUT,
                )
                .await?;
        }
        Ok(!drift.is_empty())
    }

    /// The release a heal made: the stack's own code running again.
    async fn record_healed(
        &self,
        stack: &StackDescription,
        parameters: &Parameters,
        location: &ArtifactLocation,
    ) -> Option<u64> {
        let recorded = self
            .record(
                stack,
                parameters,
                location,
                true,
                self.release.kind,
                BTreeMap::new(),
            )
            .await;
        match recorded {
            Ok(record) => Some(record.sequence),
            Err(error) => {
                self.progress.warn(&format!(
                    "the release could not be recorded in the ledger: {error:#}"
                ));
                None
            }
        }
    }

    /// Step 8: the release in the ledger, failed or not; a ledger that can't be
    /// written is a warning, not a failed deploy.
    async fn record_release(
        &self,
        stack: &StackDescription,
        parameters: &Parameters,
        location: &ArtifactLocation,
        watched: &watch::Watched,
    ) -> Option<u64> {
        let succeeded = watched.settled == Settled::Succeeded;
        match self
            .record(
                stack,
                parameters,
                location,
                succeeded,
                self.release.kind,
                BTreeMap::new(),
            )
            .await
        {
            Ok(record) => Some(record.sequence),
            Err(error) => {
                self.progress.warn(&format!(
                    "the release could not be recorded in the ledger: {error:#}"
                ));
                None
            }
        }
    }

    /// Whether the applied operation succeeded; if not, what failed and what to do.
    fn check_applied(&self, watched: &watch::Watched) -> Result<(), CommandError> {
        if watched.settled == Settled::Succeeded {
            return Ok(());
        }
        let stack = self.stack_name();
        let mut message = format!(
            "the deploy of {stack} failed; the stack is now {}",
            watched.stack.status
        );
        if let Some(reason) = watched
            .stack
            .status_reason
            .as_deref()
            .filter(|reason| !reason.is_empty())
        {
            message.push_str(&format!(" ({reason})"));
        }
        for failure in &watched.failures {
            message.push_str(&format!(
                "\n  {} {} ({}): {}",
                failure.status,
                failure.logical_id,
                failure.resource_type,
                failure.reason.as_deref().unwrap_or("no reason given")
            ));
        }
        match watched.stack.status.as_str() {
            "ROLLBACK_COMPLETE" => message.push_str(
                "\n  the stack holds nothing; fix the cause and run `pixelctl deploy` again: it deletes and recreates the stack",
            ),
            "UPDATE_ROLLBACK_COMPLETE" => message.push_str("\n  the previous version is still running"),
            "UPDATE_FAILED" => message.push_str(&format!(
                "\n  express mode rolls nothing back: the resources that updated keep their new settings, the failed ones their old; \
                 fix the cause and run `pixelctl deploy {env}` again (it updates over the failed stack), \
                 or `pixelctl rollback {env}` to redeploy the previous release",
                env = self.environment.name
            )),
            "UPDATE_ROLLBACK_FAILED" => {
                let failures = stack_state::rollback_failures(&watched.events);
                message.push_str("\n  the rollback failed too:");
                message.push_str(&stack_state::rollback_failed_advice(
                    stack,
                    &self.environment.name,
                    &failures,
                ));
            }
            _ => {}
        }
        Err(CommandError::Failed(anyhow!(message)))
    }

    /// Writes this run's release to the ledger, failed or not.
    async fn record(
        &self,
        stack: &StackDescription,
        parameters: &Parameters,
        location: &ArtifactLocation,
        succeeded: bool,
        kind: ReleaseKind,
        functions: BTreeMap<String, String>,
    ) -> anyhow::Result<ReleaseRecord> {
        let (_, who) = self.aws.caller_identity().await?;
        let template =
            release::ledger::store_template(self.aws, &location.bucket, &self.template.body)
                .await?;
        let secret = self.template.secret_parameters();
        let record = ReleaseRecord {
            environment: self.environment.name.clone(),
            sequence: 0,
            time: release::ledger::now_rfc3339(),
            who,
            kind,
            source: self.release.source.clone(),
            git: crate::git::state(&self.project.root),
            artifact: ArtifactRef {
                bucket: location.bucket.clone(),
                key: location.key.clone(),
                sha256: self.artifact.sha256().to_owned(),
            },
            template,
            parameters: parameters
                .values
                .iter()
                .filter(|(key, _)| !secret.contains(&key.as_str()))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
            tags: stack_tags(&self.environment),
            outputs: stack.outputs.clone(),
            stack_name: self.stack_name().to_owned(),
            stack_status: stack.status.clone(),
            succeeded,
            pixelctl_version: env!("CARGO_PKG_VERSION").to_owned(),
            git_tags: Vec::new(),
            // Set once the web app is published (see web_app.rs).
            frontend: None,
            functions,
        };
        let record = release::ledger::append(self.aws, &location.bucket, record).await?;
        self.progress.note(&format!(
            "recorded release #{} of {} in s3://{}/releases/",
            record.sequence, record.environment, location.bucket
        ));
        Ok(record)
    }

    /// Step 9, finish: protection, outputs, frontend/.env, CloudFront, web app, health.
    async fn finish(
        &self,
        mut report: DeployReport,
        stack: StackDescription,
        started: Instant,
        changed: bool,
    ) -> Result<DeployReport, CommandError> {
        report.stack_status = Some(stack.status.clone());
        let wanted = self.environment.termination_protection;
        if stack.termination_protection != wanted {
            self.aws
                .set_termination_protection(self.stack_name(), wanted)
                .await?;
            let policy = if wanted {
                stack_policy::guard(&[])
            } else {
                stack_policy::allow_all()
            };
            self.aws
                .set_stack_policy(self.stack_name(), &policy)
                .await?;
            self.progress.note(if wanted {
                "termination protection enabled, and a stack policy that denies replacing or removing stateful resources"
            } else {
                "termination protection disabled, and the stack policy allows every update"
            });
        }
        if self.options.write_env_file {
            let path = self.project.frontend_env_path();
            let existing = dotenv::read_existing(&path)?;
            // Against the local AWS, URLs a browser on this machine can open.
            let outputs = match self
                .aws
                .endpoint_url
                .as_deref()
                .and_then(LocalAws::from_endpoint)
            {
                Some(local) => local.localize_outputs(&stack.outputs),
                None => stack.outputs.clone(),
            };
            let output = |key: &str| outputs.get(key).map(String::as_str).unwrap_or_default();
            let updates = [
                ("VITE_API_ENDPOINT", output("ApiEndpoint")),
                ("VITE_CLOUDFRONT_DOMAIN", output("CloudFrontDomain")),
                ("VITE_S3_BUCKET", output("ImagesBucket")),
                ("VITE_ENVIRONMENT", self.environment.name.as_str()),
            ];
            dotenv::write_atomically(&path, &dotenv::merge(&existing, &updates))?;
            report.frontend_env = Some(path);
        }
        // A no-change deploy skips the CloudFront wait: nothing was changed there.
        if changed {
            match (self.options.wait_cdn, stack.outputs.get("DistributionId")) {
                (true, Some(distribution)) => {
                    cdn::wait_for_distribution(
                        self.aws,
                        distribution,
                        self.options.cdn_timeout,
                        self.progress,
                    )
                    .await?;
                    report.cloudfront = Some(format!("{distribution} Deployed"));
                }
                (false, Some(distribution)) => {
                    report.cloudfront =
                        Some(format!("{distribution} not waited for (--no-wait-cdn)"));
                }
                _ => {}
            }
        }
        report.frontend = self
            .publish_web_app(&stack, &report.artifact.bucket, report.release)
            .await?;
        let health = match health::health_target(
            stack.outputs.get("ApiEndpoint").map(String::as_str),
            self.options.health_url.as_deref(),
            self.aws.endpoint_url.as_deref(),
        ) {
            Ok(url) => health::check(&url, self.options.health_timeout, self.progress).await,
            Err(reason) => HealthReport::skipped(reason),
        };
        let unhealthy = health.checked && !health.healthy;
        report.health = Some(health);
        report.duration_seconds = started.elapsed().as_secs_f64();
        // Express mode ends the stack operation before the resources stabilise:
        // pixelctl's own health check is the readiness gate, so it decides the exit.
        if unhealthy && (self.options.require_healthy || (changed && self.express())) {
            return Err(CommandError::Unhealthy(Box::new(report)));
        }
        Ok(report)
    }
}
