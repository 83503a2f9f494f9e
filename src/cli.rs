//! The command line: clap types only. Everything here is turned into
//! settings before any command runs.

// These doc comments are the `--help` text, where `<env>` is a placeholder the
// reader fills in, not an HTML tag, and names and URLs stay bare, not in Markdown.
#![allow(rustdoc::invalid_html_tags, clippy::doc_markdown)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0  success, including a deploy with no changes
  1  the operation failed (AWS error, failed stack update, unhealthy API with --require-healthy)
  2  usage error: bad flags, unknown environment, invalid environment files, no credentials,
     a confirmation needed but no terminal to ask on (pass --yes)
  3  rejected: the change set was not confirmed
  4  status: an environment is unhealthy or stuck (doctor: a check found a problem)
  130 interrupted (Ctrl-C); a stack operation already started continues in AWS";

/// Builds, deploys, rolls back and inspects the Pixel Prompt stack on AWS.
#[derive(Debug, Parser)]
#[command(
    name = "pixelctl",
    version,
    about,
    long_about = "Builds the Pixel Prompt Lambda, renders CloudFormation per environment from \
templates/ and environments/, shows the change set before applying it, deploys with live \
progress, waits on CloudFront, writes frontend/.env and checks the API's health.\n\n\
AWS credentials and region come from the standard chain (--profile, AWS_PROFILE, AWS_* \
variables, SSO, ~/.aws); --endpoint-url or AWS_ENDPOINT_URL points every AWS call at \
another endpoint, such as the local AWS in tools/local-aws.",
    after_help = EXIT_CODES,
    after_long_help = EXIT_CODES,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The repository holding environments/ and templates/ [default: found from the current directory upwards]
    #[arg(long, global = true, env = "PIXELCTL_PROJECT_DIR", value_name = "DIR")]
    pub project_dir: Option<PathBuf>,

    /// AWS profile to use
    #[arg(long, global = true, env = "AWS_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,

    /// AWS region [default: the environment's region]
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,

    /// Send every AWS call to this endpoint (e.g. the local AWS)
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// Result format on stdout; progress always goes to stderr
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// Print only errors and the result
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// Where the model check asks the providers (JSON, the API's PROVIDER_BASE_URLS shape:
    /// {"openai": "http://127.0.0.1:9000/openai"}); with a custom AWS endpoint, providers
    /// not named here are not asked
    #[arg(
        long,
        global = true,
        env = "PIXELCTL_PROVIDER_BASE_URLS",
        value_name = "JSON"
    )]
    pub provider_base_urls: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render an environment's template and parameters (offline, no credentials)
    #[command(
        after_help = "Examples:\n  pixelctl render dev\n  pixelctl render prod --out build/prod"
    )]
    Render(RenderArgs),

    /// Check every environment file and the template (offline), reporting all problems at once;
    /// --online also asks the providers whether they still serve each configured model
    #[command(
        after_help = "With --online, each provider whose key is set (read from SSM or Secrets \
Manager where the environment says it lives; never printed) is asked which of the configured \
models it serves and when they shut down: OpenAI's model list (shutdown_date), the Gemini API's \
model list, Bedrock's GetFoundationModel (modelLifecycle). A model shut down fails the check \
(exit 2); one shutting down within 90 days is a warning. Black Forest Labs, Recraft and Stability \
publish no model list and are reported as unchecked.\n\n\
Examples:\n  pixelctl validate\n  pixelctl validate --online prod\n  \
pixelctl validate --online --output json"
    )]
    Validate(ValidateArgs),

    /// Build and package the Lambda: release build, glibc/architecture check, reproducible zip
    #[command(
        after_help = "The zip is written to target/pixelctl/<sha256>.zip; pass it to \
`pixelctl deploy --artifact` to deploy the same bytes to several environments.\n\n\
Examples:\n  pixelctl build\n  pixelctl build --env prod --output json"
    )]
    Build(BuildArgs),

    /// Build, plan, confirm and apply an environment's stack, then publish the web app and check health
    #[command(
        after_help = "Environments with `confirm_changes: true` ask before applying; without a terminal pass --yes. \
A deploy first checks that every configured model's provider key is stored (`pixelctl secrets list`); \
on a terminal it offers to store missing ones, otherwise it stops (exit 2) unless --allow-missing-keys. \
Then the providers that publish a model list are asked whether they still serve the configured \
models; a model they report as shut down stops the deploy before building (--no-model-check \
skips that question). \
After the stack: frontend/ is built with the stack's outputs (npm ci only when \
node_modules does not match the lock, then npm run build) and published to the stack's bucket \
behind its CloudFront distribution, index.html last; --no-frontend skips that.\n\n\
Examples:\n  pixelctl deploy dev\n  pixelctl deploy prod --yes --output json\n  \
pixelctl deploy staging --no-execute\n  pixelctl deploy dev --yes --no-frontend\n  \
AWS_ENDPOINT_URL=http://127.0.0.1:4566 pixelctl deploy dev --yes"
    )]
    Deploy(DeployArgs),

    /// Build the web app with a deployed stack's outputs and publish it (the stack is not changed)
    #[command(
        after_help = "Content-hashed files (assets/*) are uploaded first with a one-year immutable \
Cache-Control, then the other files, then index.html (no-cache) last as the single switch; files \
already published with the same bytes are skipped; only the changed fixed-name paths are \
invalidated, and pixelctl waits for that. A changed page is recorded in the release ledger, so \
`pixelctl rollback` can bring the previous one back.\n\n\
Examples:\n  pixelctl publish dev\n  pixelctl publish prod --output json\n  \
AWS_ENDPOINT_URL=http://127.0.0.1:4566 pixelctl publish dev"
    )]
    Publish(PublishArgs),

    /// Show what a deploy would change (builds, plans, shows; deletes its change set)
    #[command(
        after_help = "Examples:\n  pixelctl diff staging\n  pixelctl diff prod --artifact target/pixelctl/0123abcd.zip --output json"
    )]
    Diff(DiffArgs),

    /// Plan a deploy and keep its change set for review; --out writes it for `pixelctl apply`
    #[command(
        after_help = "The same as `deploy --no-execute`: builds, stores the artifact, creates the change set, \
shows it and keeps it. --out writes what it was made from (the change set id, the artifact's sha256, the \
template and parameters hashes, the stack's last change) for `pixelctl apply`; --format markdown prints \
the plan for a pull-request comment (replacements and removals first, secret values masked).\n\n\
Examples:\n  pixelctl plan prod --out plan.json\n  pixelctl plan prod --out plan.json --format markdown > plan.md"
    )]
    Plan(PlanArgs),

    /// Execute exactly the change set of a reviewed plan file, then finish the deploy
    #[command(
        after_help = "Refuses (exit 1) when the stack changed since the plan or the change set is gone; \
asks nothing: the reviewed plan is the approval, so CI can apply a prod change without --yes. After the \
change set: the functions' code, the ledger, CloudFront, frontend/.env, the web app and the health check, \
as a deploy.\n\n\
Examples:\n  pixelctl apply plan.json\n  pixelctl apply plan.json --no-frontend --output json"
    )]
    Apply(ApplyPlanArgs),

    /// Rebuild the Lambda and hotswap it on every save under lambda/ (dev loop)
    #[command(
        after_help = "Polls lambda/ and the workspace's Cargo files; every change rebuilds with the \
environment's build_profile and runs `deploy <env> --hotswap` (falling back to a full deploy, saying \
why, when more than the code differs), printing one line per change with its build and swap times. A \
failed build leaves the live code alone. Refused where the environment says `hotswap: false`. \
Runs until Ctrl-C.\n\nExamples:\n  pixelctl watch dev"
    )]
    Watch(WatchArgs),

    /// Print a deployed stack's outputs
    #[command(
        after_help = "Examples:\n  pixelctl outputs dev\n  pixelctl outputs prod --format dotenv > frontend/.env.production"
    )]
    Outputs(OutputsArgs),

    /// List an environment's releases, newest first, marking the live one
    #[command(
        after_help = "Examples:\n  pixelctl history prod\n  pixelctl history staging --output json"
    )]
    History(EnvArgs),

    /// Go back to an earlier release: the exact template, parameters and artifact bytes, and its web app
    #[command(
        after_help = "By the stack's state: UPDATE_IN_PROGRESS is cancelled; UPDATE_ROLLBACK_FAILED \
is continued (--skip names resources to leave); a settled stack is redeployed from the previous \
successful release, or the one named with --to, through the same plan and confirmation as deploy, \
and the web app that release published is published again (its index.html, one invalidation; \
--no-frontend leaves the page as it is).\n\n\
Examples:\n  pixelctl rollback prod\n  pixelctl rollback staging --to 12\n  pixelctl rollback dev --to dev-v0.3.0"
    )]
    Rollback(RollbackArgs),

    /// Deploy to one environment the artifact and template live in another
    #[command(
        after_help = "What staging verified is what reaches prod: the same artifact bytes and \
template body, with the target environment's own parameters. The target's provider keys are \
checked first, as a deploy checks them.\n\nExamples:\n  pixelctl promote staging prod\n  pixelctl promote staging prod --yes --require-healthy"
    )]
    Promote(PromoteArgs),

    /// Create the git tag <env>-vX.Y.Z on the commit of the live release
    #[command(
        disable_version_flag = true,
        after_help = "Examples:\n  pixelctl tag staging\n  pixelctl tag prod --bump minor --push\n  pixelctl tag prod --version 2.0.0"
    )]
    Tag(TagArgs),

    /// Delete an environment's stack (retained buckets and the release ledger stay)
    #[command(
        after_help = "Examples:\n  pixelctl destroy dev\n  pixelctl destroy staging --yes\n  pixelctl destroy prod --disable-termination-protection"
    )]
    Destroy(DestroyArgs),

    /// Delete stored artifacts and web app files no recent release and no live stack uses
    #[command(after_help = "Examples:\n  pixelctl prune\n  pixelctl prune --keep 10 --yes")]
    Prune(PruneArgs),

    /// Run the Pixel Prompt API on 127.0.0.1 for frontend development (no AWS needed)
    #[cfg(feature = "local")]
    #[command(
        after_help = "The router is the deployed Lambda's own, configured from the environment file as the stack \
would configure it. With --fake-providers a built-in provider returns generated placeholder \
images after a short delay (and /enhance a canned rewrite), so no API key is needed.\n\n\
CORS: any loopback origin (http://localhost, 127.0.0.1 or [::1] on any port) and the \
environment's origins are allowed; --allow-origin adds others. With --fake-providers every \
origin is (`Access-Control-Allow-Origin: *`, as the old API answered); with real keys `*` is \
refused, since any web page you open could then spend them through localhost.\n\n\
Examples:\n  pixelctl local --fake-providers\n  \
pixelctl local staging --port 8080 --data-dir /tmp/pixel\n  \
pixelctl local --allow-origin http://192.168.1.20:3000\n  \
pixelctl local --s3-endpoint http://127.0.0.1:4566 --bucket local-images --fake-providers"
    )]
    Local(LocalArgs),

    /// Store, list or remove the AI providers' API keys where the environment file says they live
    #[command(
        subcommand,
        after_help = "Keys live in SSM (SecureString) or Secrets Manager, at the locations under \
`providers:` in environments/. A key is never an argument: `set` asks for it without echo on a \
terminal, or reads it from stdin. The API re-reads a key within 5 minutes of a change, at once \
when the provider refuses the old one.\n\n\
Examples:\n  pixelctl secrets list prod\n  pixelctl secrets set prod openai\n  \
pixelctl secrets set staging bfl < bfl-key.txt\n  pixelctl secrets rm dev recraft --yes"
    )]
    Secrets(SecretsCommand),

    /// How each environment is doing: stack, live release, drift, CloudFront, alarms, API health
    #[command(
        after_help = "With no environment, every environment is shown side by side \
(one that was never deployed is listed as such and does not fail the command).\n\n\
Exit codes: 0 every environment healthy; 4 one is unhealthy or stuck (a failed or rolled-back \
stack state, an operation in progress for over an hour, an alarm in ALARM, the API not \
answering, a named environment not deployed); 1 pixelctl could not find out.\n\n\
Examples:\n  pixelctl status\n  pixelctl status prod\n  pixelctl status staging prod --output json"
    )]
    Status(StatusArgs),

    /// The logs of the API and the generation worker from CloudWatch Logs, merged oldest first; --follow keeps watching
    #[command(
        after_help = "JSON log lines from the API are shown as time, level, message, then \
the job and correlation ids and the other fields. --follow polls CloudWatch Logs every 0.8 s \
(live tail is not used), so a line shows at most about a second after CloudWatch has it; \
Ctrl-C ends it with exit 0.\n\n\
Examples:\n  pixelctl logs dev\n  pixelctl logs prod --since 1h --errors\n  \
pixelctl logs staging --follow --filter gallery\n  \
pixelctl logs prod --job 0b6c9d2e-8f1a-4c3b-9d5e-7a6b5c4d3e2f --since 2d\n  \
pixelctl logs dev --output json"
    )]
    Logs(LogsArgs),

    /// Check this machine and account: credentials, region, endpoint, artifact store, build tools, node, git, keys
    #[command(after_help = "One line per check: ok, warn or PROBLEM, with the fix. \
Exit 0 when nothing is a problem, 4 otherwise.\n\n\
Examples:\n  pixelctl doctor\n  pixelctl doctor prod\n  pixelctl doctor --output json")]
    Doctor(DoctorArgs),

    /// Print a completion script for a shell
    #[command(
        after_help = "Examples:\n  pixelctl completions bash > ~/.local/share/bash-completion/completions/pixelctl\n  \
pixelctl completions zsh > ~/.zfunc/_pixelctl\n  \
pixelctl completions fish > ~/.config/fish/completions/pixelctl.fish\n  \
pixelctl completions powershell >> $PROFILE"
    )]
    Completions(CompletionsArgs),

    /// Print the man page, or write one per command into a folder
    #[command(after_help = "Examples:\n  pixelctl man | man -l -\n  pixelctl man --out target/man")]
    Man(ManArgs),
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Store a provider's key (asked for without echo, or read from stdin)
    #[command(
        after_help = "Gemini and Imagen share one Google key by default: setting either \
sets it for both.\n\nExamples:\n  pixelctl secrets set prod openai\n  \
printf %s \"$OPENAI_KEY\" | pixelctl secrets set staging openai"
    )]
    Set(SecretArgs),

    /// Show, per key the environment uses, whether it is set, where and when it last changed (never a value)
    #[command(
        after_help = "Examples:\n  pixelctl secrets list dev\n  pixelctl secrets list prod --output json"
    )]
    List(EnvArgs),

    /// Delete a provider's key (a Secrets Manager secret stays restorable for 7 days)
    #[command(
        after_help = "Examples:\n  pixelctl secrets rm dev recraft\n  pixelctl secrets rm staging bfl --yes"
    )]
    Rm(SecretRmArgs),
}

#[derive(Debug, Args)]
pub struct SecretArgs {
    /// Environment name (a file in environments/)
    pub env: String,
    /// The provider whose key it is: openai, gemini, imagen, bfl, recraft or stability
    pub provider: String,
}

#[derive(Debug, Args)]
pub struct SecretRmArgs {
    /// Environment name (a file in environments/)
    pub env: String,
    /// The provider whose key to delete
    pub provider: String,
    /// Delete without asking (needed without a terminal)
    #[arg(long, short)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Environments to show [default: every file in environments/]
    pub envs: Vec<String>,

    /// How long the API's health probe may take, in seconds
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub probe_timeout: u64,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Environment name (a file in environments/)
    pub env: String,

    /// Keep printing new lines as they arrive, until Ctrl-C
    #[arg(long, short)]
    pub follow: bool,

    /// How far back to start: a duration (10m, 2h, 3d) or a time (2026-11-29T08:00:00Z) [default: 10m, or 1d with --job]
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,

    /// Only lines containing TEXT (case-insensitive)
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,

    /// Only errors: ERROR-level lines, timeouts and crashes
    #[arg(long)]
    pub errors: bool,

    /// Every line of one generation job (its requests and worker), by job id
    #[arg(long, value_name = "ID")]
    pub job: Option<String>,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Environments whose region, artifact store and keys to check [default: all]
    pub envs: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write pixelctl.1 and one page per command (pixelctl-deploy.1, ...) into DIR
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[cfg(feature = "local")]
#[derive(Debug, Args)]
pub struct LocalArgs {
    /// Environment whose models, limits and origins to use
    #[arg(default_value = "dev")]
    pub env: String,

    /// Port on 127.0.0.1 (0 picks a free one)
    #[arg(long, default_value_t = 3001)]
    pub port: u16,

    /// Keep jobs and images in this folder [default: target/pixelctl/local]
    #[arg(long, value_name = "DIR", conflicts_with = "s3_endpoint")]
    pub data_dir: Option<PathBuf>,

    /// Keep jobs and images in S3 at this endpoint (e.g. the local AWS)
    #[arg(long, value_name = "URL", requires = "bucket")]
    pub s3_endpoint: Option<String>,

    /// The bucket to use with --s3-endpoint (created if missing)
    #[arg(long, value_name = "NAME")]
    pub bucket: Option<String>,

    /// Answer with generated placeholder images instead of calling any provider
    #[arg(long)]
    pub fake_providers: bool,

    /// Send a provider's calls to another base URL, e.g. a stub: --provider-base-url openai=http://127.0.0.1:9000
    #[arg(long, value_name = "PROVIDER=URL")]
    pub provider_base_url: Vec<String>,

    /// Also allow this web origin (CORS), e.g. a phone on the LAN: http://192.168.1.20:3000 (repeatable)
    #[arg(long, value_name = "ORIGIN")]
    pub allow_origin: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Only this environment [default: every environment]
    pub env: Option<String>,

    /// Also ask the providers whether they still serve each configured model (needs AWS
    /// credentials: keys are read where the environment says they live)
    #[arg(long)]
    pub online: bool,
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    /// Environment name (a file in environments/)
    pub env: String,
}

/// What deploy and rollback do with the web app.
#[derive(Debug, Args)]
pub struct WebAppArgs {
    /// Leave the web app as it is: deploy the stack alone
    #[arg(long)]
    pub no_frontend: bool,

    /// How long to wait for CloudFront to invalidate the web app's changed paths, in seconds
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    pub invalidation_timeout: u64,
}

/// How `pixelctl plan` prints the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    Text,
    Markdown,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Environment name
    pub env: String,

    #[command(flatten)]
    pub artifact: ArtifactArgs,

    /// Write the plan to FILE for `pixelctl apply`
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// How to print the plan: text, or markdown for a pull-request comment
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Environment name
    pub env: String,

    /// How long each cycle's health check retries, in seconds
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub health_timeout: u64,
}

#[derive(Debug, Args)]
pub struct ApplyPlanArgs {
    /// The plan file `pixelctl plan --out` wrote
    pub plan: PathBuf,

    /// In a protected environment, allow the plan to replace or remove this stateful
    /// resource (the images bucket, the distribution, a log group) by its logical id;
    /// repeatable
    #[arg(long, value_name = "LOGICAL_ID")]
    pub allow_replace: Vec<String>,

    /// Don't wait for CloudFront to report Deployed
    #[arg(long)]
    pub no_wait_cdn: bool,

    /// How long to wait for CloudFront, in seconds
    #[arg(long, default_value_t = 2400, value_name = "SECONDS")]
    pub cdn_timeout: u64,

    /// Exit 1 when the API is not healthy after the deploy
    #[arg(long)]
    pub require_healthy: bool,

    /// Check this URL's health instead of the stack's API endpoint
    #[arg(long, value_name = "URL")]
    pub health_url: Option<String>,

    /// How long to retry the health check, in seconds
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub health_timeout: u64,

    /// Don't write the stack's outputs into frontend/.env
    #[arg(long)]
    pub no_env_file: bool,

    #[command(flatten)]
    pub web_app: WebAppArgs,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Environment name (a file in environments/)
    pub env: String,

    /// How long to wait for CloudFront to invalidate the changed paths, in seconds
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    pub invalidation_timeout: u64,
}

/// How a redeploy finishes, shared by deploy, rollback and promote.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Apply without asking, even where the environment asks to confirm
    #[arg(long, short)]
    pub yes: bool,

    /// Stop after showing the plan; the change set is kept for review
    #[arg(long)]
    pub no_execute: bool,

    /// Don't wait for CloudFront to finish deploying
    #[arg(long)]
    pub no_wait_cdn: bool,

    /// How long to wait for CloudFront, in seconds (real distributions take tens of minutes)
    #[arg(long, default_value_t = 2400, value_name = "SECONDS")]
    pub cdn_timeout: u64,

    /// Fail (exit 1) when the API's health check fails
    #[arg(long)]
    pub require_healthy: bool,

    /// Check this URL instead of {ApiEndpoint}/gallery/list
    #[arg(long, value_name = "URL")]
    pub health_url: Option<String>,

    /// How long the health check retries, in seconds
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub health_timeout: u64,

    /// Don't write frontend/.env
    #[arg(long)]
    pub no_env_file: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Environment name (a file in environments/)
    pub env: String,

    /// The release to go back to: its number (see `pixelctl history`) or its git tag
    #[arg(long, value_name = "SEQ|TAG")]
    pub to: Option<String>,

    /// With UPDATE_ROLLBACK_FAILED: resources ContinueUpdateRollback may skip
    #[arg(long, value_name = "LOGICAL_ID")]
    pub skip: Vec<String>,

    #[command(flatten)]
    pub apply: ApplyArgs,

    #[command(flatten)]
    pub web_app: WebAppArgs,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The environment whose live release is promoted
    pub from: String,
    /// The environment it is deployed to
    pub to: String,

    #[command(flatten)]
    pub apply: ApplyArgs,

    /// Promote even though a model's provider key is not stored in the target environment
    #[arg(long)]
    pub allow_missing_keys: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BumpArg {
    Patch,
    Minor,
    Major,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    /// Environment name (a file in environments/)
    pub env: String,

    /// Which part of the latest <env>-vX.Y.Z tag to raise
    #[arg(long, value_enum, default_value_t = BumpArg::Patch, conflicts_with = "version")]
    pub bump: BumpArg,

    /// Use this version instead of bumping
    #[arg(long, value_name = "X.Y.Z")]
    pub version: Option<String>,

    /// Push the tag to the `origin` remote
    #[arg(long)]
    pub push: bool,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Environment name (a file in environments/)
    pub env: String,

    /// Delete without typing the stack name (needed without a terminal)
    #[arg(long, short)]
    pub yes: bool,

    /// Turn off the stack's termination protection first (prod has it)
    #[arg(long)]
    pub disable_termination_protection: bool,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Keep the artifacts and web app files of this many latest releases of each environment
    #[arg(long, default_value_t = 5, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep: u32,

    /// Delete without asking (needed without a terminal)
    #[arg(long, short)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct ArtifactArgs {
    /// Deploy this zip (from `pixelctl build`) instead of building the Lambda now
    #[arg(long, value_name = "ZIP")]
    pub artifact: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Environment whose architecture to build for
    #[arg(long, default_value = "dev", value_name = "ENV")]
    pub env: String,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Environment name (a file in environments/)
    pub env: String,

    #[command(flatten)]
    pub artifact: ArtifactArgs,

    #[command(flatten)]
    pub apply: ApplyArgs,

    #[command(flatten)]
    pub web_app: WebAppArgs,

    /// After a successful deploy, tag the release's commit <env>-vX.Y.Z (next patch version)
    #[arg(long)]
    pub tag: bool,

    /// When only the Lambda's code changed, update the functions directly (seconds, no
    /// change set); anything else falls back to a full deploy. Refused where the
    /// environment says `hotswap: false` (prod)
    #[arg(long)]
    pub hotswap: bool,

    /// Use CloudFormation's express mode for this deploy (finishes once the configuration
    /// is applied; no automatic rollback); pixelctl's CloudFront wait and health check
    /// still gate the result
    #[arg(long, conflicts_with = "standard")]
    pub express: bool,

    /// Use CloudFormation's standard mode for this deploy (waits for stabilisation, rolls back a failure)
    #[arg(long)]
    pub standard: bool,

    /// In a protected environment, allow replacing or removing this stateful resource
    /// (the images bucket, the distribution, a log group) by its logical id; repeatable
    #[arg(long, value_name = "LOGICAL_ID")]
    pub allow_replace: Vec<String>,

    /// Deploy even though a model's provider key is not stored (those models will fail)
    #[arg(long)]
    pub allow_missing_keys: bool,

    /// Don't ask the providers whether they still serve the configured models before building
    #[arg(long)]
    pub no_model_check: bool,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Environment name (a file in environments/)
    pub env: String,

    #[command(flatten)]
    pub artifact: ArtifactArgs,
}

#[derive(Debug, Args)]
pub struct OutputsArgs {
    /// Environment name (a file in environments/)
    pub env: String,

    /// How to print them [default: table, or json with --output json]
    #[arg(long, value_enum)]
    pub format: Option<OutputsFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputsFormat {
    Table,
    Json,
    Dotenv,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Environment name (a file in environments/, e.g. dev, staging, prod)
    pub env: String,

    /// Write DIR/template.yaml, DIR/parameters.json and DIR/tags.json instead of printing the template
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}
