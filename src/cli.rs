//! The command line: clap types only. Everything here is turned into
//! settings before any command runs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0  success, including a deploy with no changes
  1  the operation failed (AWS error, failed stack update, unhealthy API with --require-healthy)
  2  usage error: bad flags, unknown environment, invalid environment files
  3  rejected: the change set was not confirmed";

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
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Environment name (a file in environments/, e.g. dev, staging, prod)
    pub env: String,

    /// Write DIR/template.yaml, DIR/parameters.json and DIR/tags.json instead of printing the template
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}
