//! CloudFormation: stacks, change sets and events, as pixelctl's own types.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant, SystemTime};

use anyhow::anyhow;
use aws_sdk_cloudformation::types::{
    Capability, ChangeAction, ChangeSetType, Parameter, ResourceAttribute, Tag,
};

use super::Aws;
use super::error::{self, AwsError, ErrorKind};
use crate::plan::{Action, PropertyChange, Replacement, ResourceChange};

/// What `DescribeStacks` says about a stack.
#[derive(Debug, Clone, Default)]
pub struct StackDescription {
    pub name: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub parameters: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub termination_protection: bool,
    /// The change set the stack's last operation executed.
    pub change_set_id: Option<String>,
    /// When the stack last changed: its last update, else its creation.
    pub last_changed: Option<SystemTime>,
}

/// One stack event, newest information first as CloudFormation lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackEvent {
    pub id: String,
    /// The server's time of the event.
    pub timestamp: SystemTime,
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: Option<String>,
    /// The `ClientRequestToken` of the operation that caused the event.
    pub client_request_token: Option<String>,
}

impl StackEvent {
    /// Whether this event is about the stack itself rather than a resource.
    pub fn is_stack(&self) -> bool {
        self.resource_type == "AWS::CloudFormation::Stack"
    }
}

/// One resource of a stack.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StackResource {
    pub logical_id: String,
    pub resource_type: String,
    pub physical_id: String,
    pub status: String,
}

/// Everything a change set is made from.
#[derive(Debug, Clone)]
pub struct ChangeSetRequest<'a> {
    pub stack_name: &'a str,
    pub change_set_name: &'a str,
    pub create: bool,
    pub template_body: &'a str,
    pub parameters: &'a BTreeMap<String, String>,
    pub tags: &'a BTreeMap<String, String>,
    pub description: &'a str,
    /// CloudFormation's express mode (`DeploymentConfig` `Mode: EXPRESS`).
    pub express: bool,
}

/// A change set as `pixelctl apply` checks it before executing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewedChangeSet {
    pub name: String,
    pub status: String,
    pub execution_status: String,
    pub parameters: BTreeMap<String, String>,
}

/// A change set on a stack, as `ListChangeSets` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSetSummary {
    pub name: String,
    /// `CREATE_PENDING`, `CREATE_IN_PROGRESS`, `CREATE_COMPLETE`, `FAILED` ...
    pub status: String,
    /// `AVAILABLE`, `EXECUTE_COMPLETE`, `UNAVAILABLE` ...
    pub execution_status: String,
    pub description: Option<String>,
}

/// How a change set ended up after creation.
#[derive(Debug, Clone)]
pub enum ChangeSetStatus {
    Ready(Vec<ResourceChange>),
    /// CloudFormation found nothing to change.
    Empty,
    Failed(String),
}

/// How long a change set may take to compute before pixelctl gives up on it.
pub const CHANGE_SET_TIMEOUT: Duration = Duration::from_mins(10);

/// Whether an error means "no such stack" (see `error::kind_of` for how
/// CloudFormation says so).
fn missing_stack<E>(
    error: &aws_sdk_cloudformation::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> bool
where
    E: aws_sdk_cloudformation::error::ProvideErrorMetadata,
{
    error::kind(error) == ErrorKind::NotFound
}

impl Aws {
    /// The stack, or `None` if there is none by that name.
    pub async fn describe_stack(&self, name: &str) -> anyhow::Result<Option<StackDescription>> {
        let response = match self
            .cloudformation
            .describe_stacks()
            .stack_name(name)
            .send()
            .await
        {
            Ok(response) => response,
            Err(error) => {
                if missing_stack(&error) {
                    return Ok(None);
                }
                return Err(anyhow::Error::from(AwsError::new(
                    format!("cannot read stack `{name}`"),
                    &error,
                )));
            }
        };
        let Some(stack) = response.stacks().first() else {
            return Ok(None);
        };
        let pairs = |items: Vec<(Option<&str>, Option<&str>)>| -> BTreeMap<String, String> {
            items
                .into_iter()
                .filter_map(|(key, value)| {
                    Some((key?.to_owned(), value.unwrap_or_default().to_owned()))
                })
                .collect()
        };
        Ok(Some(StackDescription {
            name: stack.stack_name().unwrap_or(name).to_owned(),
            status: stack
                .stack_status()
                .map(|status| status.as_str().to_owned())
                .unwrap_or_default(),
            status_reason: stack.stack_status_reason().map(str::to_owned),
            parameters: pairs(
                stack
                    .parameters()
                    .iter()
                    .map(|parameter| (parameter.parameter_key(), parameter.parameter_value()))
                    .collect(),
            ),
            outputs: pairs(
                stack
                    .outputs()
                    .iter()
                    .map(|output| (output.output_key(), output.output_value()))
                    .collect(),
            ),
            tags: pairs(
                stack
                    .tags()
                    .iter()
                    .map(|tag| (tag.key(), tag.value()))
                    .collect(),
            ),
            termination_protection: stack.enable_termination_protection().unwrap_or(false),
            change_set_id: stack.change_set_id().map(str::to_owned),
            last_changed: stack
                .last_updated_time()
                .or(stack.creation_time())
                .and_then(|time| {
                    u64::try_from(time.to_millis().ok()?)
                        .ok()
                        .map(|millis| SystemTime::UNIX_EPOCH + Duration::from_millis(millis))
                }),
        }))
    }

    /// The template body the stack runs now, as it was submitted.
    pub async fn template_body(&self, name: &str) -> anyhow::Result<String> {
        let response = self
            .cloudformation
            .get_template()
            .stack_name(name)
            .template_stage(aws_sdk_cloudformation::types::TemplateStage::Original)
            .send()
            .await
            .map_err(|error| {
                anyhow::Error::from(AwsError::new(
                    format!("cannot read the template of `{name}`"),
                    &error,
                ))
            })?;
        Ok(response.template_body().unwrap_or_default().to_owned())
    }

    /// The stack's change sets whose name starts with `prefix` (those pixelctl
    /// made), every page, with their state.
    pub async fn change_sets_with_prefix(
        &self,
        stack: &str,
        prefix: &str,
    ) -> anyhow::Result<Vec<ChangeSetSummary>> {
        let mut found = Vec::new();
        let mut pages = self
            .cloudformation
            .list_change_sets()
            .stack_name(stack)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| {
                anyhow::Error::from(AwsError::new(
                    format!("cannot list change sets of `{stack}`"),
                    &error,
                ))
            })?;
            found.extend(
                page.summaries()
                    .iter()
                    .filter_map(|summary| {
                        Some(ChangeSetSummary {
                            name: summary.change_set_name()?.to_owned(),
                            status: summary
                                .status()
                                .map(|status| status.as_str().to_owned())
                                .unwrap_or_default(),
                            execution_status: summary
                                .execution_status()
                                .map(|status| status.as_str().to_owned())
                                .unwrap_or_default(),
                            description: summary.description().map(str::to_owned),
                        })
                    })
                    .filter(|summary| summary.name.starts_with(prefix)),
            );
        }
        Ok(found)
    }

    pub async fn delete_change_set(&self, stack: &str, name: &str) -> anyhow::Result<()> {
        self.cloudformation
            .delete_change_set()
            .stack_name(stack)
            .change_set_name(name)
            .send()
            .await
            .map_err(|error| {
                anyhow::Error::from(AwsError::new(
                    format!("cannot delete change set `{name}`"),
                    &error,
                ))
            })?;
        Ok(())
    }

    /// Creates the change set; returns its id (ARN).
    pub async fn create_change_set(
        &self,
        request: &ChangeSetRequest<'_>,
    ) -> anyhow::Result<String> {
        let parameters = request.parameters.iter().map(|(key, value)| {
            Parameter::builder()
                .parameter_key(key)
                .parameter_value(value)
                .build()
        });
        let tags = request
            .tags
            .iter()
            .map(|(key, value)| Tag::builder().key(key).value(value).build());
        self.cloudformation
            .create_change_set()
            .stack_name(request.stack_name)
            .change_set_name(request.change_set_name)
            .change_set_type(if request.create {
                ChangeSetType::Create
            } else {
                ChangeSetType::Update
            })
            .template_body(request.template_body)
            .set_parameters(Some(parameters.collect()))
            .set_tags(Some(tags.collect()))
            .capabilities(Capability::CapabilityIam)
            .description(request.description)
            .set_deployment_config(request.express.then(|| {
                aws_sdk_cloudformation::types::DeploymentConfig::builder()
                    .mode(aws_sdk_cloudformation::types::DeploymentConfigMode::Express)
                    .build()
            }))
            .send()
            .await
            .map_err(|error| {
                anyhow::Error::from(AwsError::new(
                    format!(
                        "CloudFormation refused the change set for `{}`",
                        request.stack_name
                    ),
                    &error,
                ))
            })
            .map(|answer| answer.id().unwrap_or(request.change_set_name).to_owned())
    }

    /// A change set as `apply` needs it: its status, execution status and parameter
    /// values; `None` when CloudFormation no longer has it.
    pub async fn reviewed_change_set(
        &self,
        stack: &str,
        id: &str,
    ) -> anyhow::Result<Option<ReviewedChangeSet>> {
        let answer = match self
            .cloudformation
            .describe_change_set()
            .stack_name(stack)
            .change_set_name(id)
            .send()
            .await
        {
            Ok(answer) => answer,
            Err(error)
                if error.as_service_error().is_some_and(|service| {
                    service.is_change_set_not_found_exception()
                        || aws_sdk_cloudformation::error::ProvideErrorMetadata::code(service)
                            == Some("ChangeSetNotFound")
                }) =>
            {
                return Ok(None);
            }
            Err(error) => {
                return Err(AwsError::new(format!("cannot read change set `{id}`"), &error).into());
            }
        };
        Ok(Some(ReviewedChangeSet {
            name: answer.change_set_name().unwrap_or_default().to_owned(),
            status: answer
                .status()
                .map(|status| status.as_str().to_owned())
                .unwrap_or_default(),
            execution_status: answer
                .execution_status()
                .map(|status| status.as_str().to_owned())
                .unwrap_or_default(),
            parameters: answer
                .parameters()
                .iter()
                .filter_map(|parameter| {
                    Some((
                        parameter.parameter_key()?.to_owned(),
                        parameter.parameter_value().unwrap_or_default().to_owned(),
                    ))
                })
                .collect(),
        }))
    }

    /// The template body a change set was made from.
    pub async fn change_set_template(
        &self,
        stack: &str,
        change_set: &str,
    ) -> anyhow::Result<String> {
        let response = self
            .cloudformation
            .get_template()
            .stack_name(stack)
            .change_set_name(change_set)
            .template_stage(aws_sdk_cloudformation::types::TemplateStage::Original)
            .send()
            .await
            .map_err(|error| {
                anyhow::Error::from(AwsError::new(
                    format!("cannot read the template of change set `{change_set}`"),
                    &error,
                ))
            })?;
        Ok(response.template_body().unwrap_or_default().to_owned())
    }

    /// Waits until the change set is computed, polling quickly then backing off, for
    /// at most `timeout`.
    pub async fn wait_for_change_set(
        &self,
        stack: &str,
        name: &str,
        timeout: Duration,
    ) -> anyhow::Result<ChangeSetStatus> {
        let started = Instant::now();
        let mut delay = Duration::from_millis(250);
        loop {
            let response = self
                .cloudformation
                .describe_change_set()
                .stack_name(stack)
                .change_set_name(name)
                .include_property_values(true)
                .send()
                .await
                .map_err(|error| {
                    anyhow::Error::from(AwsError::new(
                        format!("cannot read change set `{name}`"),
                        &error,
                    ))
                })?;
            let status = response
                .status()
                .map(aws_sdk_cloudformation::types::ChangeSetStatus::as_str)
                .unwrap_or_default();
            match status {
                "CREATE_COMPLETE" => {
                    let mut changes: Vec<ResourceChange> = response
                        .changes()
                        .iter()
                        .filter_map(resource_change)
                        .collect();
                    let mut token = response.next_token().map(str::to_owned);
                    while let Some(next) = token {
                        let page = self
                            .cloudformation
                            .describe_change_set()
                            .stack_name(stack)
                            .change_set_name(name)
                            .include_property_values(true)
                            .next_token(next)
                            .send()
                            .await
                            .map_err(|error| {
                                anyhow::Error::from(AwsError::new(
                                    format!("cannot read change set `{name}`"),
                                    &error,
                                ))
                            })?;
                        changes.extend(page.changes().iter().filter_map(resource_change));
                        token = page.next_token().map(str::to_owned);
                    }
                    return Ok(ChangeSetStatus::Ready(changes));
                }
                "FAILED" => {
                    let reason = response
                        .status_reason()
                        .unwrap_or("no reason given")
                        .to_owned();
                    return Ok(if crate::stack_state::is_empty_change_set(&reason) {
                        ChangeSetStatus::Empty
                    } else {
                        ChangeSetStatus::Failed(reason)
                    });
                }
                other => {
                    if started.elapsed() >= timeout {
                        return Err(anyhow!(
                            "change set `{name}` of `{stack}` was still {} after {}s; CloudFormation may be slow or stuck: \
                             look at it with `aws cloudformation describe-change-set --stack-name {stack} --change-set-name {name}`, \
                             delete it, and deploy again",
                            if other.is_empty() { "not ready" } else { other },
                            timeout.as_secs()
                        ));
                    }
                    tokio::time::sleep(delay.min(timeout.saturating_sub(started.elapsed()))).await;
                    delay = (delay * 3 / 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Starts the change set's operation, tagged with `token` (its events carry it), with
    /// rollback on failure stated rather than left to a default (CloudFormation's express
    /// mode turns it off by default).
    pub async fn execute_change_set(
        &self,
        stack: &str,
        name: &str,
        token: &str,
        disable_rollback: bool,
    ) -> anyhow::Result<()> {
        self.cloudformation
            .execute_change_set()
            .stack_name(stack)
            .change_set_name(name)
            .client_request_token(token)
            .disable_rollback(disable_rollback)
            .send()
            .await
            .map_err(|error| {
                anyhow::Error::from(AwsError::new(
                    format!("cannot execute change set `{name}`"),
                    &error,
                ))
            })?;
        Ok(())
    }

    /// Events not in `seen`, oldest first; `None` once the stack no longer exists (a
    /// delete finished). Reads pages newest first and stops at the first event already
    /// seen (or after `max_pages`).
    pub async fn new_events(
        &self,
        stack: &str,
        seen: &mut HashSet<String>,
        max_pages: usize,
    ) -> anyhow::Result<Option<Vec<StackEvent>>> {
        let mut fresh = Vec::new();
        let mut pages = self
            .cloudformation
            .describe_stack_events()
            .stack_name(stack)
            .into_paginator()
            .send();
        let mut read = 0;
        'pages: while read < max_pages.max(1) {
            let Some(page) = pages.next().await else {
                break;
            };
            read += 1;
            let page = match page {
                Ok(page) => page,
                Err(error) => {
                    if missing_stack(&error) {
                        return Ok(None);
                    }
                    return Err(anyhow::Error::from(AwsError::new(
                        format!("cannot read events of `{stack}`"),
                        &error,
                    )));
                }
            };
            for event in page.stack_events() {
                let id = event.event_id().unwrap_or_default().to_owned();
                // Events come newest first: anything seen ends the read.
                if seen.contains(&id) {
                    break 'pages;
                }
                seen.insert(id.clone());
                fresh.push(StackEvent {
                    id,
                    timestamp: event
                        .timestamp()
                        .and_then(|time| SystemTime::try_from(*time).ok())
                        .unwrap_or(SystemTime::UNIX_EPOCH),
                    logical_id: event.logical_resource_id().unwrap_or_default().to_owned(),
                    resource_type: event.resource_type().unwrap_or_default().to_owned(),
                    status: event
                        .resource_status()
                        .map(|status| status.as_str().to_owned())
                        .unwrap_or_default(),
                    reason: event.resource_status_reason().map(str::to_owned),
                    client_request_token: event.client_request_token().map(str::to_owned),
                });
            }
        }
        fresh.reverse();
        Ok(Some(fresh))
    }

    pub async fn delete_stack(&self, stack: &str, token: &str) -> anyhow::Result<()> {
        self.cloudformation
            .delete_stack()
            .stack_name(stack)
            .client_request_token(token)
            .send()
            .await
            .map_err(|error| {
                anyhow::Error::from(AwsError::new(
                    format!("cannot delete stack `{stack}`"),
                    &error,
                ))
            })?;
        Ok(())
    }

    pub async fn continue_update_rollback(
        &self,
        stack: &str,
        skip: &[String],
        token: &str,
    ) -> anyhow::Result<()> {
        self.cloudformation
            .continue_update_rollback()
            .stack_name(stack)
            .client_request_token(token)
            .set_resources_to_skip((!skip.is_empty()).then(|| skip.to_vec()))
            .send()
            .await
            .map_err(|error| {
                anyhow::Error::from(AwsError::new(
                    format!("cannot continue the rollback of `{stack}`"),
                    &error,
                ))
            })?;
        Ok(())
    }

    pub async fn cancel_update(&self, stack: &str, token: &str) -> anyhow::Result<()> {
        self.cloudformation
            .cancel_update_stack()
            .stack_name(stack)
            .client_request_token(token)
            .send()
            .await
            .map_err(|error| {
                anyhow::Error::from(AwsError::new(
                    format!("cannot cancel the update of `{stack}`"),
                    &error,
                ))
            })?;
        Ok(())
    }

    /// The stack's resources: logical id, type, physical id and status.
    pub async fn stack_resources(&self, stack: &str) -> anyhow::Result<Vec<StackResource>> {
        let response = self
            .cloudformation
            .describe_stack_resources()
            .stack_name(stack)
            .send()
            .await
            .map_err(|error| {
                anyhow::Error::from(AwsError::new(
                    format!("cannot list the resources of `{stack}`"),
                    &error,
                ))
            })?;
        Ok(response
            .stack_resources()
            .iter()
            .map(|resource| StackResource {
                logical_id: resource
                    .logical_resource_id()
                    .unwrap_or_default()
                    .to_owned(),
                resource_type: resource.resource_type().unwrap_or_default().to_owned(),
                physical_id: resource
                    .physical_resource_id()
                    .unwrap_or_default()
                    .to_owned(),
                status: resource
                    .resource_status()
                    .map(|status| status.as_str().to_owned())
                    .unwrap_or_default(),
            })
            .collect())
    }

    /// Sets the stack's policy (`stack_policy::guard` or `allow_all`).
    pub async fn set_stack_policy(&self, stack: &str, body: &str) -> anyhow::Result<()> {
        self.cloudformation
            .set_stack_policy()
            .stack_name(stack)
            .stack_policy_body(body)
            .send()
            .await
            .map_err(|error| {
                anyhow::Error::from(AwsError::new(
                    format!("cannot set the stack policy of `{stack}`"),
                    &error,
                ))
            })?;
        Ok(())
    }

    pub async fn set_termination_protection(
        &self,
        stack: &str,
        enabled: bool,
    ) -> anyhow::Result<()> {
        self.cloudformation
            .update_termination_protection()
            .stack_name(stack)
            .enable_termination_protection(enabled)
            .send()
            .await
            .map_err(|error| {
                anyhow::Error::from(AwsError::new(
                    format!("cannot change termination protection of `{stack}`"),
                    &error,
                ))
            })?;
        Ok(())
    }
}

/// What a change set detail changed: its `Path` as a dotted name
/// (`/Properties/Environment/Variables/MODELS` -> `Environment.Variables.MODELS`), so a
/// nested value's before and after are not shown as the whole property's; without a
/// path, the property's name or the attribute.
pub fn property_name(path: Option<&str>, name: Option<&str>, attribute: Option<&str>) -> String {
    if let Some(path) = path.filter(|path| !path.is_empty()) {
        let trimmed = path
            .strip_prefix("/Properties/")
            .unwrap_or_else(|| path.trim_start_matches('/'));
        return trimmed
            .split('/')
            .map(|segment| segment.replace("~1", "/").replace("~0", "~"))
            .collect::<Vec<_>>()
            .join(".");
    }
    name.or(attribute).unwrap_or_default().to_owned()
}

/// Turns one SDK change into a plan row.
fn resource_change(change: &aws_sdk_cloudformation::types::Change) -> Option<ResourceChange> {
    let resource = change.resource_change()?;
    let mut properties: Vec<PropertyChange> = Vec::new();
    for detail in resource.details() {
        let Some(target) = detail.target() else {
            continue;
        };
        let name = property_name(
            target.path(),
            target.name(),
            target.attribute().map(ResourceAttribute::as_str),
        );
        if name.is_empty() || properties.iter().any(|existing| existing.name == name) {
            continue;
        }
        properties.push(PropertyChange {
            name,
            before: target.before_value().map(str::to_owned),
            after: target.after_value().map(str::to_owned),
            requires_recreation: target
                .requires_recreation()
                .map(|recreation| recreation.as_str().to_owned()),
        });
    }
    Some(ResourceChange {
        action: Action::parse(resource.action().map_or("Modify", ChangeAction::as_str)),
        logical_id: resource
            .logical_resource_id()
            .unwrap_or_default()
            .to_owned(),
        resource_type: resource.resource_type().unwrap_or_default().to_owned(),
        replacement: Replacement::parse(
            resource
                .replacement()
                .map(aws_sdk_cloudformation::types::Replacement::as_str),
        ),
        properties,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient, capture_request};
    use aws_smithy_types::body::SdkBody;

    /// One recorded exchange: any CloudFormation request, this answer (query protocol XML).
    fn answer(status: u16, xml: &str) -> ReplayEvent {
        ReplayEvent::new(
            http::Request::builder()
                .uri("https://cloudformation.us-west-2.amazonaws.com/")
                .body(SdkBody::empty())
                .unwrap_or_else(|error| panic!("{error}")),
            http::Response::builder()
                .status(status)
                .body(SdkBody::from(xml.to_owned()))
                .unwrap_or_else(|error| panic!("{error}")),
        )
    }

    fn error_xml(code: &str, message: &str) -> String {
        format!(
            "<ErrorResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><Error><Type>Sender</Type>\
             <Code>{code}</Code><Message>{message}</Message></Error><RequestId>b9b4b068-3a41-11e5-94eb-example</RequestId></ErrorResponse>"
        )
    }

    #[tokio::test]
    async fn a_change_set_that_never_finishes_is_given_up_on() {
        // DescribeChangeSet as AWS answers a change set still being computed.
        let pending = "<DescribeChangeSetResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">\
            <DescribeChangeSetResult><ChangeSetName>pixelctl-1-001</ChangeSetName><StackName>pixel-prompt-dev</StackName>\
            <Status>CREATE_IN_PROGRESS</Status><ExecutionStatus>UNAVAILABLE</ExecutionStatus><Changes/></DescribeChangeSetResult>\
            <ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeChangeSetResponse>";
        let replay = StaticReplayClient::new(vec![answer(200, pending), answer(200, pending)]);
        let aws = Aws::for_replay(replay.clone());
        let error = aws
            .wait_for_change_set("pixel-prompt-dev", "pixelctl-1-001", Duration::ZERO)
            .await
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("was still CREATE_IN_PROGRESS after 0s"),
            "{error}"
        );
        assert!(error.contains("describe-change-set"), "{error}");
        assert_eq!(replay.actual_requests().count(), 1);
    }

    #[tokio::test]
    async fn a_missing_stack_is_none_and_an_access_error_that_mentions_does_not_exist_is_not() {
        let replay = StaticReplayClient::new(vec![
            answer(
                400,
                &error_xml(
                    "ValidationError",
                    "Stack with id pixel-prompt-dev does not exist",
                ),
            ),
            answer(
                403,
                &error_xml(
                    "AccessDenied",
                    "User: arn:aws:iam::1:user/ci is not authorized to perform: cloudformation:DescribeStacks; the policy that would allow it does not exist",
                ),
            ),
        ]);
        let aws = Aws::for_replay(replay);
        assert!(matches!(
            aws.describe_stack("pixel-prompt-dev").await,
            Ok(None)
        ));
        let denied = aws.describe_stack("pixel-prompt-dev").await;
        let message = denied
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(message.contains("AccessDenied"), "{message}");
    }

    fn change_sets_page(names: &[(&str, &str)], next: Option<&str>) -> String {
        let members = names
            .iter()
            .map(|(name, status)| {
                format!(
                    "<member><ChangeSetName>{name}</ChangeSetName><Status>{status}</Status>\
                     <ExecutionStatus>UNAVAILABLE</ExecutionStatus><StackName>pixel-prompt-dev</StackName></member>"
                )
            })
            .collect::<Vec<_>>()
            .concat();
        let next = next
            .map(|token| format!("<NextToken>{token}</NextToken>"))
            .unwrap_or_default();
        format!(
            "<ListChangeSetsResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><ListChangeSetsResult>\
             <Summaries>{members}</Summaries>{next}</ListChangeSetsResult><ResponseMetadata><RequestId>3</RequestId>\
             </ResponseMetadata></ListChangeSetsResponse>"
        )
    }

    #[tokio::test]
    async fn every_page_of_change_sets_is_read() {
        let replay = StaticReplayClient::new(vec![
            answer(
                200,
                &change_sets_page(
                    &[("pixelctl-1-001", "FAILED"), ("someone-elses", "FAILED")],
                    Some("page-2"),
                ),
            ),
            answer(
                200,
                &change_sets_page(&[("pixelctl-2-002", "CREATE_IN_PROGRESS")], None),
            ),
        ]);
        let aws = Aws::for_replay(replay.clone());
        let found = aws
            .change_sets_with_prefix("pixel-prompt-dev", "pixelctl-")
            .await
            .unwrap_or_else(|error| panic!("{error:#}"));
        let names: Vec<(&str, &str)> = found
            .iter()
            .map(|summary| (summary.name.as_str(), summary.status.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("pixelctl-1-001", "FAILED"),
                ("pixelctl-2-002", "CREATE_IN_PROGRESS")
            ]
        );
        let second = replay
            .actual_requests()
            .nth(1)
            .map(|request| {
                String::from_utf8_lossy(request.body().bytes().unwrap_or_default()).into_owned()
            })
            .unwrap_or_default();
        assert!(second.contains("NextToken=page-2"), "{second}");
    }

    #[tokio::test]
    async fn execute_states_rollback_and_tags_the_operation() {
        let (http_client, request) = capture_request(Some(
            http::Response::builder()
                .status(200)
                .body(SdkBody::from(
                    "<ExecuteChangeSetResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">\
                     <ExecuteChangeSetResult/><ResponseMetadata><RequestId>2</RequestId></ResponseMetadata></ExecuteChangeSetResponse>",
                ))
                .unwrap_or_else(|error| panic!("{error}")),
        ));
        let aws = Aws::for_replay(http_client);
        aws.execute_change_set(
            "pixel-prompt-dev",
            "pixelctl-1-001",
            "pixelctl-execute-1-000000001",
            false,
        )
        .await
        .unwrap_or_else(|error| panic!("{error:#}"));
        let sent = request.expect_request();
        let body = std::str::from_utf8(sent.body().bytes().unwrap_or_default())
            .unwrap_or_default()
            .to_owned();
        assert!(body.contains("Action=ExecuteChangeSet"), "{body}");
        // Stated, not left to a default that CloudFormation's express mode flips.
        assert!(body.contains("DisableRollback=false"), "{body}");
        assert!(
            body.contains("ClientRequestToken=pixelctl-execute-1-000000001"),
            "{body}"
        );
    }

    #[test]
    fn a_nested_value_is_named_by_its_path() {
        let cases = [
            (
                Some("/Properties/Environment/Variables/MODELS"),
                Some("Environment"),
                Some("Properties"),
                "Environment.Variables.MODELS",
            ),
            (
                Some("/Properties/LifecycleConfiguration/Rules/0/ExpirationInDays"),
                Some("LifecycleConfiguration"),
                Some("Properties"),
                "LifecycleConfiguration.Rules.0.ExpirationInDays",
            ),
            (
                Some("/Properties/MemorySize"),
                Some("MemorySize"),
                Some("Properties"),
                "MemorySize",
            ),
            (Some("/Tags/Project"), None, Some("Tags"), "Tags.Project"),
            (
                Some("/Properties/a~1b"),
                Some("a/b"),
                Some("Properties"),
                "a/b",
            ),
            (None, Some("MemorySize"), Some("Properties"), "MemorySize"),
            (None, None, Some("Tags"), "Tags"),
        ];
        for (path, name, attribute, expected) in cases {
            assert_eq!(property_name(path, name, attribute), expected, "{path:?}");
        }
    }
}
