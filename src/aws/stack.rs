//! CloudFormation: stacks, change sets and events, as pixelctl's own types.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, SystemTime};

use anyhow::anyhow;
use aws_sdk_cloudformation::types::{Capability, ChangeSetType, Parameter, Tag};

use super::{Aws, describe_error};
use crate::plan::{Action, PropertyChange, Replacement, ResourceChange};

/// What DescribeStacks says about a stack.
#[derive(Debug, Clone, Default)]
pub struct StackDescription {
    pub name: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub parameters: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub termination_protection: bool,
    /// When the stack last changed: its last update, else its creation.
    pub last_changed: Option<SystemTime>,
}

/// One stack event, newest information first as CloudFormation lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackEvent {
    pub id: String,
    pub timestamp: SystemTime,
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: Option<String>,
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
}

/// How a change set ended up after creation.
#[derive(Debug, Clone)]
pub enum ChangeSetStatus {
    Ready(Vec<ResourceChange>),
    /// CloudFormation found nothing to change.
    Empty,
    Failed(String),
}

fn is_missing_stack(message: &str) -> bool {
    message.contains("does not exist")
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
                let message = describe_error(&error);
                if is_missing_stack(&message) {
                    return Ok(None);
                }
                return Err(anyhow!("cannot read stack `{name}`: {message}"));
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
                anyhow!(
                    "cannot read the template of `{name}`: {}",
                    describe_error(&error)
                )
            })?;
        Ok(response.template_body().unwrap_or_default().to_owned())
    }

    /// Change sets pixelctl left on the stack in earlier runs.
    pub async fn pixelctl_change_sets(&self, stack: &str) -> anyhow::Result<Vec<String>> {
        let response = self
            .cloudformation
            .list_change_sets()
            .stack_name(stack)
            .send()
            .await
            .map_err(|error| {
                anyhow!(
                    "cannot list change sets of `{stack}`: {}",
                    describe_error(&error)
                )
            })?;
        Ok(response
            .summaries()
            .iter()
            .filter(|summary| {
                summary.execution_status().map(|status| status.as_str()) != Some("EXECUTE_COMPLETE")
            })
            .filter_map(|summary| summary.change_set_name())
            .filter(|name| name.starts_with(crate::deploy::CHANGE_SET_PREFIX))
            .map(str::to_owned)
            .collect())
    }

    pub async fn delete_change_set(&self, stack: &str, name: &str) -> anyhow::Result<()> {
        self.cloudformation
            .delete_change_set()
            .stack_name(stack)
            .change_set_name(name)
            .send()
            .await
            .map_err(|error| {
                anyhow!(
                    "cannot delete change set `{name}`: {}",
                    describe_error(&error)
                )
            })?;
        Ok(())
    }

    pub async fn create_change_set(&self, request: &ChangeSetRequest<'_>) -> anyhow::Result<()> {
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
            .send()
            .await
            .map_err(|error| {
                anyhow!(
                    "CloudFormation refused the change set for `{}`: {}",
                    request.stack_name,
                    describe_error(&error)
                )
            })?;
        Ok(())
    }

    /// Waits until the change set is computed, polling quickly then backing off.
    pub async fn wait_for_change_set(
        &self,
        stack: &str,
        name: &str,
    ) -> anyhow::Result<ChangeSetStatus> {
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
                    anyhow!(
                        "cannot read change set `{name}`: {}",
                        describe_error(&error)
                    )
                })?;
            let status = response
                .status()
                .map(|status| status.as_str())
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
                                anyhow!(
                                    "cannot read change set `{name}`: {}",
                                    describe_error(&error)
                                )
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
                _ => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 3 / 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    pub async fn execute_change_set(&self, stack: &str, name: &str) -> anyhow::Result<()> {
        self.cloudformation
            .execute_change_set()
            .stack_name(stack)
            .change_set_name(name)
            .send()
            .await
            .map_err(|error| {
                anyhow!(
                    "cannot execute change set `{name}`: {}",
                    describe_error(&error)
                )
            })?;
        Ok(())
    }

    /// Events not in `seen` that happened at or after `since`, oldest first;
    /// `None` once the stack no longer exists (a delete finished).
    /// Reads pages newest first and stops at the first event already seen.
    pub async fn new_events(
        &self,
        stack: &str,
        seen: &mut HashSet<String>,
        since: SystemTime,
    ) -> anyhow::Result<Option<Vec<StackEvent>>> {
        let mut fresh = Vec::new();
        let mut token: Option<String> = None;
        'pages: loop {
            let response = self
                .cloudformation
                .describe_stack_events()
                .stack_name(stack)
                .set_next_token(token.take())
                .send()
                .await;
            let response = match response {
                Ok(response) => response,
                Err(error) => {
                    let message = describe_error(&error);
                    if is_missing_stack(&message) {
                        return Ok(None);
                    }
                    return Err(anyhow!("cannot read events of `{stack}`: {message}"));
                }
            };
            for event in response.stack_events() {
                let id = event.event_id().unwrap_or_default().to_owned();
                let timestamp = event
                    .timestamp()
                    .and_then(|time| SystemTime::try_from(*time).ok())
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                // Events come newest first: anything seen or too old ends the read.
                if seen.contains(&id) || timestamp < since {
                    break 'pages;
                }
                seen.insert(id.clone());
                fresh.push(StackEvent {
                    id,
                    timestamp,
                    logical_id: event.logical_resource_id().unwrap_or_default().to_owned(),
                    resource_type: event.resource_type().unwrap_or_default().to_owned(),
                    status: event
                        .resource_status()
                        .map(|status| status.as_str().to_owned())
                        .unwrap_or_default(),
                    reason: event.resource_status_reason().map(str::to_owned),
                });
            }
            match response.next_token() {
                Some(next) => token = Some(next.to_owned()),
                None => break,
            }
        }
        fresh.reverse();
        Ok(Some(fresh))
    }

    pub async fn delete_stack(&self, stack: &str) -> anyhow::Result<()> {
        self.cloudformation
            .delete_stack()
            .stack_name(stack)
            .send()
            .await
            .map_err(|error| {
                anyhow!("cannot delete stack `{stack}`: {}", describe_error(&error))
            })?;
        Ok(())
    }

    pub async fn continue_update_rollback(
        &self,
        stack: &str,
        skip: &[String],
    ) -> anyhow::Result<()> {
        self.cloudformation
            .continue_update_rollback()
            .stack_name(stack)
            .set_resources_to_skip((!skip.is_empty()).then(|| skip.to_vec()))
            .send()
            .await
            .map_err(|error| {
                anyhow!(
                    "cannot continue the rollback of `{stack}`: {}",
                    describe_error(&error)
                )
            })?;
        Ok(())
    }

    pub async fn cancel_update(&self, stack: &str) -> anyhow::Result<()> {
        self.cloudformation
            .cancel_update_stack()
            .stack_name(stack)
            .send()
            .await
            .map_err(|error| {
                anyhow!(
                    "cannot cancel the update of `{stack}`: {}",
                    describe_error(&error)
                )
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
                anyhow!(
                    "cannot list the resources of `{stack}`: {}",
                    describe_error(&error)
                )
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
                anyhow!(
                    "cannot change termination protection of `{stack}`: {}",
                    describe_error(&error)
                )
            })?;
        Ok(())
    }
}

/// Turns one SDK change into a plan row.
fn resource_change(change: &aws_sdk_cloudformation::types::Change) -> Option<ResourceChange> {
    let resource = change.resource_change()?;
    let mut properties: Vec<PropertyChange> = Vec::new();
    for detail in resource.details() {
        let Some(target) = detail.target() else {
            continue;
        };
        let name = target
            .name()
            .or_else(|| target.attribute().map(|attribute| attribute.as_str()))
            .unwrap_or_default()
            .to_owned();
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
        action: Action::parse(
            resource
                .action()
                .map(|action| action.as_str())
                .unwrap_or("Modify"),
        ),
        logical_id: resource
            .logical_resource_id()
            .unwrap_or_default()
            .to_owned(),
        resource_type: resource.resource_type().unwrap_or_default().to_owned(),
        replacement: Replacement::parse(
            resource
                .replacement()
                .map(|replacement| replacement.as_str()),
        ),
        properties,
    })
}
