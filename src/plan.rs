//! A change set turned into a plan a person can read: one row per resource
//! change, replacements called out, and the parameter diff with secrets masked.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::redact::MASK;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Add,
    Modify,
    Remove,
    Import,
    Dynamic,
}

impl Action {
    pub fn parse(action: &str) -> Self {
        match action {
            "Add" => Self::Add,
            "Remove" => Self::Remove,
            "Import" => Self::Import,
            "Dynamic" => Self::Dynamic,
            _ => Self::Modify,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Self::Add => "+",
            Self::Modify => "~",
            Self::Remove => "-",
            Self::Import => "<",
            Self::Dynamic => "?",
        }
    }

    fn word(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Modify => "modify",
            Self::Remove => "remove",
            Self::Import => "import",
            Self::Dynamic => "dynamic",
        }
    }
}

/// Whether a modification replaces the resource (a new physical resource).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Replacement {
    No,
    Conditional,
    Yes,
}

impl Replacement {
    pub fn parse(value: Option<&str>) -> Self {
        match value {
            Some("True") => Self::Yes,
            Some("Conditional") => Self::Conditional,
            _ => Self::No,
        }
    }
}

/// One property that changes, with values when the change set carries them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PropertyChange {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// `Always`, `Conditionally` or `Never`, as CloudFormation reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requires_recreation: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceChange {
    pub action: Action,
    pub logical_id: String,
    pub resource_type: String,
    pub replacement: Replacement,
    pub properties: Vec<PropertyChange>,
}

impl ResourceChange {
    /// Replacing these loses data or takes a long time.
    fn is_costly_replacement(&self) -> bool {
        self.replacement != Replacement::No
            && matches!(
                self.resource_type.as_str(),
                "AWS::S3::Bucket" | "AWS::CloudFront::Distribution" | "AWS::Logs::LogGroup"
            )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParameterChange {
    pub key: String,
    pub old: Option<String>,
    pub new: Option<String>,
    pub secret: bool,
}

/// Parameters that differ between `old` (the stack now) and `new`, with every
/// value of a `secret` parameter shown as `****`.
pub fn parameter_diff(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
    secret: &[&str],
) -> Vec<ParameterChange> {
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|key| {
            let before = old.get(key);
            let after = new.get(key);
            let is_secret = secret.contains(&key.as_str());
            // A secret's old value comes back masked, so it can't be compared:
            // it is listed as changing whenever a new value is sent.
            if before == after && !is_secret {
                return None;
            }
            let mask = |value: Option<&String>| {
                value.map(|value| {
                    if is_secret {
                        MASK.to_owned()
                    } else {
                        value.clone()
                    }
                })
            };
            Some(ParameterChange {
                key: key.clone(),
                old: mask(before),
                new: mask(after),
                secret: is_secret,
            })
        })
        .collect()
}

/// What a change set would do to a stack.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeSetPlan {
    pub stack_name: String,
    pub change_set_name: String,
    /// `create` or `update`.
    pub change_set_type: String,
    pub resources: Vec<ResourceChange>,
    pub parameters: Vec<ParameterChange>,
}

/// Resource types whose replacement or removal loses data or time: the images
/// bucket, the distribution, the log groups.
pub const STATEFUL_TYPES: [&str; 3] = [
    "AWS::S3::Bucket",
    "AWS::CloudFront::Distribution",
    "AWS::Logs::LogGroup",
];

impl ChangeSetPlan {
    /// The stateful resources this plan replaces (or may replace) or removes that
    /// `allowed` (`--allow-replace`) does not name. Pure.
    pub fn unallowed_losses(&self, allowed: &[String]) -> Vec<&ResourceChange> {
        self.resources
            .iter()
            .filter(|change| STATEFUL_TYPES.contains(&change.resource_type.as_str()))
            .filter(|change| {
                change.action == Action::Remove
                    || (change.action == Action::Modify && change.replacement != Replacement::No)
            })
            .filter(|change| !allowed.contains(&change.logical_id))
            .collect()
    }

    /// The plan as Markdown for a pull-request comment: replacements and removals
    /// first, `NoEcho` values masked (as in the text form).
    pub fn to_markdown(&self, environment: &str) -> String {
        let cell = |text: &str| text.replace('|', "\\|").replace('\n', " ");
        let mut out = format!(
            "### Plan for `{}` ({environment}): {}, change set `{}`\n\n",
            self.stack_name, self.change_set_type, self.change_set_name
        );
        if self.resources.is_empty() {
            out.push_str("No resource changes.\n");
        } else {
            out.push_str(&format!(
                "**{} resource changes**: {} add, {} modify ({} replaced), {} remove\n\n",
                self.resources.len(),
                self.count(Action::Add),
                self.count(Action::Modify),
                self.replacements(),
                self.count(Action::Remove)
            ));
            out.push_str("| change | resource | type | note |\n|---|---|---|---|\n");
            let rank = |change: &ResourceChange| match (change.action, change.replacement) {
                (Action::Modify, Replacement::Yes | Replacement::Conditional) => 0,
                (Action::Remove, _) => 1,
                _ => 2,
            };
            let mut ordered: Vec<&ResourceChange> = self.resources.iter().collect();
            ordered.sort_by_key(|change| rank(change));
            for change in &ordered {
                let word = match (change.action, change.replacement) {
                    (Action::Modify, Replacement::Yes) => "**replace**",
                    (Action::Modify, Replacement::Conditional) => "**may replace**",
                    (Action::Remove, _) => "**remove**",
                    (action, _) => action.word(),
                };
                let note = if change.is_costly_replacement() {
                    "new resource: data or time is lost"
                } else {
                    ""
                };
                out.push_str(&format!(
                    "| {word} | `{}` | `{}` | {note} |\n",
                    cell(&change.logical_id),
                    cell(&change.resource_type)
                ));
            }
            let properties: Vec<String> = ordered
                .iter()
                .flat_map(|change| {
                    change.properties.iter().map(move |property| {
                        let show = |value: &Option<String>| match value {
                            Some(value) => format!("`{}`", cell(&shorten(value))),
                            None => "(none)".to_owned(),
                        };
                        format!(
                            "- `{}` `{}`: {} -> {}\n",
                            change.logical_id,
                            property.name,
                            show(&property.before),
                            show(&property.after)
                        )
                    })
                })
                .collect();
            if !properties.is_empty() {
                out.push_str("\n<details><summary>Property changes</summary>\n\n");
                out.push_str(&properties.concat());
                out.push_str("\n</details>\n");
            }
        }
        if !self.parameters.is_empty() {
            out.push_str("\n**Parameters**\n\n| parameter | before | after |\n|---|---|---|\n");
            for parameter in &self.parameters {
                let show = |value: &Option<String>| match value {
                    Some(value) => format!("`{}`", cell(&shorten(value))),
                    None => "(none)".to_owned(),
                };
                out.push_str(&format!(
                    "| `{}` | {} | {} |\n",
                    parameter.key,
                    show(&parameter.old),
                    show(&parameter.new)
                ));
            }
        }
        out
    }

    pub fn replacements(&self) -> usize {
        self.resources
            .iter()
            .filter(|change| {
                change.replacement != Replacement::No && change.action == Action::Modify
            })
            .count()
    }

    fn count(&self, action: Action) -> usize {
        self.resources
            .iter()
            .filter(|change| change.action == action)
            .count()
    }
}

/// Shortens long values (policies, JSON) so a row stays readable.
fn shorten(value: &str) -> String {
    const LIMIT: usize = 60;
    let flat: String = value.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= LIMIT {
        flat
    } else {
        let cut: String = flat.chars().take(LIMIT - 1).collect();
        format!("{cut}…")
    }
}

impl fmt::Display for ChangeSetPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Plan for {} ({}, change set {}):",
            self.stack_name, self.change_set_type, self.change_set_name
        )?;
        if self.resources.is_empty() {
            writeln!(f, "  no resource changes")?;
        }
        let id_width = self
            .resources
            .iter()
            .map(|change| change.logical_id.len())
            .max()
            .unwrap_or(0);
        let type_width = self
            .resources
            .iter()
            .map(|change| change.resource_type.len())
            .max()
            .unwrap_or(0);
        for change in &self.resources {
            let replace = match (change.action, change.replacement) {
                (Action::Modify, Replacement::Yes) => "  REPLACED",
                (Action::Modify, Replacement::Conditional) => "  MAY BE REPLACED",
                _ => "",
            };
            let warning = if change.is_costly_replacement() {
                "  (new resource: data or time is lost)"
            } else {
                ""
            };
            let row = format!(
                "  {} {:<7} {:<id_width$}  {:<type_width$}{replace}{warning}",
                change.action.symbol(),
                change.action.word(),
                change.logical_id,
                change.resource_type,
            );
            writeln!(f, "{}", row.trim_end())?;
            for property in &change.properties {
                let recreation = match property.requires_recreation.as_deref() {
                    Some("Always") => " (forces replacement)",
                    Some("Conditionally") => " (may force replacement)",
                    _ => "",
                };
                match (&property.before, &property.after) {
                    (None, None) => writeln!(f, "      {}{recreation}", property.name)?,
                    (before, after) => {
                        let show = |value: &Option<String>| match value {
                            Some(value) => shorten(value),
                            None => "(none)".to_owned(),
                        };
                        writeln!(
                            f,
                            "      {}: {} -> {}{recreation}",
                            property.name,
                            show(before),
                            show(after)
                        )?;
                    }
                }
            }
        }
        if !self.parameters.is_empty() {
            writeln!(f, "Parameters:")?;
            for parameter in &self.parameters {
                let show = |value: &Option<String>| match value {
                    Some(value) => shorten(value),
                    None => "(none)".to_owned(),
                };
                writeln!(
                    f,
                    "  {}: {} -> {}",
                    parameter.key,
                    show(&parameter.old),
                    show(&parameter.new)
                )?;
            }
        }
        let replacements = self.replacements();
        write!(
            f,
            "{} resource change{} ({} add, {} modify, {} remove)",
            self.resources.len(),
            if self.resources.len() == 1 { "" } else { "s" },
            self.count(Action::Add),
            self.count(Action::Modify),
            self.count(Action::Remove),
        )?;
        if replacements > 0 {
            write!(
                f,
                ", {replacements} replacement{}",
                if replacements == 1 { "" } else { "s" }
            )?;
        }
        writeln!(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unallowed_losses_of_stateful_resources_are_guarded() {
        let plan = sample();
        let named = |allowed: &[&str]| -> Vec<String> {
            let allowed: Vec<String> = allowed.iter().map(|id| (*id).to_owned()).collect();
            plan.unallowed_losses(&allowed)
                .iter()
                .map(|change| change.logical_id.clone())
                .collect()
        };
        // The bucket's replacement; not the function's change, the route's removal
        // (not stateful) or the added subscription.
        assert_eq!(named(&[]), ["ImagesBucket"]);
        assert!(named(&["ImagesBucket"]).is_empty());
        assert_eq!(named(&["ApiFunction"]), ["ImagesBucket"]);
        let mut removal = sample();
        removal.resources[1].action = Action::Remove;
        removal.resources[1].replacement = Replacement::No;
        assert_eq!(removal.unallowed_losses(&[]).len(), 1);
        removal.resources[1].resource_type = "AWS::Logs::LogGroup".to_owned();
        assert_eq!(removal.unallowed_losses(&[]).len(), 1);
        removal.resources[1].resource_type = "AWS::SNS::Topic".to_owned();
        assert!(removal.unallowed_losses(&[]).is_empty());
    }

    #[test]
    fn markdown_puts_replacements_and_removals_first_and_masks_secrets() {
        let markdown = sample().to_markdown("dev");
        let rows: Vec<&str> = markdown
            .lines()
            .filter(|line| {
                line.starts_with("| **")
                    || line.starts_with("| add")
                    || line.starts_with("| modify")
            })
            .collect();
        assert_eq!(
            rows,
            [
                "| **replace** | `ImagesBucket` | `AWS::S3::Bucket` | new resource: data or time is lost |",
                "| **remove** | `OldRoute` | `AWS::ApiGatewayV2::Route` |  |",
                "| modify | `ApiFunction` | `AWS::Lambda::Function` |  |",
                "| add | `AlarmEmailSubscription` | `AWS::SNS::Subscription` |  |",
            ],
            "{markdown}"
        );
        assert!(
            markdown.contains("- `ApiFunction` `MemorySize`: `512` -> `1024`"),
            "{markdown}"
        );
        assert!(
            markdown.contains("| `LambdaMemoryMb` | `512` | `1024` |"),
            "{markdown}"
        );
        assert!(
            markdown.contains("| `ApiToken` | `****` | `****` |"),
            "{markdown}"
        );
        assert!(!markdown.contains("hunter2"), "{markdown}");
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn sample() -> ChangeSetPlan {
        ChangeSetPlan {
            stack_name: "pixel-prompt-dev".to_owned(),
            change_set_name: "pixelctl-20261126T054300Z".to_owned(),
            change_set_type: "update".to_owned(),
            resources: vec![
                ResourceChange {
                    action: Action::Modify,
                    logical_id: "ApiFunction".to_owned(),
                    resource_type: "AWS::Lambda::Function".to_owned(),
                    replacement: Replacement::No,
                    properties: vec![PropertyChange {
                        name: "MemorySize".to_owned(),
                        before: Some("512".to_owned()),
                        after: Some("1024".to_owned()),
                        requires_recreation: Some("Never".to_owned()),
                    }],
                },
                ResourceChange {
                    action: Action::Modify,
                    logical_id: "ImagesBucket".to_owned(),
                    resource_type: "AWS::S3::Bucket".to_owned(),
                    replacement: Replacement::Yes,
                    properties: vec![PropertyChange {
                        name: "BucketName".to_owned(),
                        before: None,
                        after: None,
                        requires_recreation: Some("Always".to_owned()),
                    }],
                },
                ResourceChange {
                    action: Action::Add,
                    logical_id: "AlarmEmailSubscription".to_owned(),
                    resource_type: "AWS::SNS::Subscription".to_owned(),
                    replacement: Replacement::No,
                    properties: vec![],
                },
                ResourceChange {
                    action: Action::Remove,
                    logical_id: "OldRoute".to_owned(),
                    resource_type: "AWS::ApiGatewayV2::Route".to_owned(),
                    replacement: Replacement::No,
                    properties: vec![],
                },
            ],
            parameters: parameter_diff(
                &map(&[
                    ("LambdaMemoryMb", "512"),
                    ("ApiToken", "****"),
                    ("Same", "x"),
                ]),
                &map(&[
                    ("LambdaMemoryMb", "1024"),
                    ("ApiToken", "hunter2-secret"),
                    ("Same", "x"),
                ]),
                &["ApiToken"],
            ),
        }
    }

    #[test]
    fn plan_text_shows_actions_replacements_and_masked_parameters() {
        insta::assert_snapshot!(sample().to_string(), @r"
        Plan for pixel-prompt-dev (update, change set pixelctl-20261126T054300Z):
          ~ modify  ApiFunction             AWS::Lambda::Function
              MemorySize: 512 -> 1024
          ~ modify  ImagesBucket            AWS::S3::Bucket           REPLACED  (new resource: data or time is lost)
              BucketName (forces replacement)
          + add     AlarmEmailSubscription  AWS::SNS::Subscription
          - remove  OldRoute                AWS::ApiGatewayV2::Route
        Parameters:
          ApiToken: **** -> ****
          LambdaMemoryMb: 512 -> 1024
        4 resource changes (1 add, 2 modify, 1 remove), 1 replacement
        ");
    }

    #[test]
    fn plan_json_never_holds_a_secret() {
        let json = serde_json::to_string(&sample()).unwrap();
        assert!(!json.contains("hunter2-secret"));
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["resources"][1]["replacement"], "yes");
        assert_eq!(value["parameters"][0]["new"], "****");
        assert_eq!(value["parameters"][0]["secret"], true);
    }

    #[test]
    fn parameter_diff_lists_only_changes() {
        let diff = parameter_diff(
            &map(&[("A", "1"), ("B", "2"), ("Gone", "x")]),
            &map(&[("A", "1"), ("B", "3"), ("New", "y")]),
            &[],
        );
        let keys: Vec<&str> = diff.iter().map(|change| change.key.as_str()).collect();
        assert_eq!(keys, ["B", "Gone", "New"]);
        assert_eq!(diff[1].new, None);
        assert_eq!(diff[2].old, None);
    }

    #[test]
    fn long_values_are_shortened() {
        let long = "x".repeat(200);
        assert_eq!(shorten(&long).chars().count(), 60);
        assert_eq!(shorten("a\n   b"), "a b");
    }
}
