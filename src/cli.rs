//! The command line: clap types only. Everything here is turned into
//! settings before any command runs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0  success, including a deploy with no changes
  1  the operation failed (AWS error, failed stack update, unhealthy API with --require-healthy)
  2  usage error: bad flags, unknown environment, invalid environment files, no credentials,
     a confirmation needed but no terminal to ask on (pass --yes)
  3  rejected: the change set was not confirmed
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

    /// Check every environment file and the template (offline), reporting all problems at once
    Validate,

    /// Build and package the Lambda: release build, glibc/architecture check, reproducible zip
    #[command(
        after_help = "The zip is written to target/pixelctl/<sha256>.zip; pass it to \
`pixelctl deploy --artifact` to deploy the same bytes to several environments."
    )]
    Build(BuildArgs),

    /// Build, plan, confirm and apply an environment's stack, then write frontend/.env and check health
    #[command(
        after_help = "Examples:\n  pixelctl deploy dev\n  pixelctl deploy prod --yes --output json\n  \
pixelctl deploy staging --no-execute\n  AWS_ENDPOINT_URL=http://127.0.0.1:4566 pixelctl deploy dev --yes\n\n\
Environments with `confirm_changes: true` ask before applying; without a terminal pass --yes."
    )]
    Deploy(DeployArgs),

    /// Show what a deploy would change (builds, plans, shows; deletes its change set)
    Diff(DiffArgs),

    /// Print a deployed stack's outputs
    #[command(
        after_help = "Examples:\n  pixelctl outputs dev\n  pixelctl outputs prod --format dotenv > frontend/.env.production"
    )]
    Outputs(OutputsArgs),

    /// List an environment's releases, newest first, marking the live one
    History(EnvArgs),

    /// Go back to an earlier release: the exact template, parameters and artifact bytes
    #[command(
        after_help = "By the stack's state: UPDATE_IN_PROGRESS is cancelled; UPDATE_ROLLBACK_FAILED \
is continued (--skip names resources to leave); a settled stack is redeployed from the previous \
successful release, or the one named with --to, through the same plan and confirmation as deploy.\n\n\
Examples:\n  pixelctl rollback prod\n  pixelctl rollback staging --to 12\n  pixelctl rollback dev --to dev-v0.3.0"
    )]
    Rollback(RollbackArgs),

    /// Deploy to one environment the artifact and template live in another
    #[command(
        after_help = "What staging verified is what reaches prod: the same artifact bytes and \
template body, with the target environment's own parameters.\n\nExample:\n  pixelctl promote staging prod"
    )]
    Promote(PromoteArgs),

    /// Create the git tag <env>-vX.Y.Z on the commit of the live release
    #[command(disable_version_flag = true)]
    Tag(TagArgs),

    /// Delete an environment's stack (retained buckets and the release ledger stay)
    Destroy(DestroyArgs),

    /// Delete stored artifacts no recent release and no live stack uses
    Prune(PruneArgs),

    /// Run the Pixel Prompt API on 127.0.0.1 for frontend development (no AWS needed)
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
}

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
pub struct EnvArgs {
    /// Environment name (a file in environments/)
    pub env: String,
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
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The environment whose live release is promoted
    pub from: String,
    /// The environment it is deployed to
    pub to: String,

    #[command(flatten)]
    pub apply: ApplyArgs,
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
    /// Keep the artifacts of this many latest releases of each environment
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

    /// After a successful deploy, tag the release's commit <env>-vX.Y.Z (next patch version)
    #[arg(long)]
    pub tag: bool,
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
