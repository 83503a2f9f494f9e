//! CloudWatch alarms: their states, for `status`.

use super::Aws;
use super::error::AwsError;

/// One alarm and the state CloudWatch has it in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AlarmState {
    pub name: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Aws {
    /// The states of the alarms named (at most 100, `DescribeAlarms`' limit per call).
    pub async fn alarm_states(&self, names: &[String]) -> anyhow::Result<Vec<AlarmState>> {
        let mut states = Vec::new();
        for chunk in names.chunks(100) {
            let response = self
                .cloudwatch
                .describe_alarms()
                .set_alarm_names(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|error| {
                    anyhow::Error::from(AwsError::new("cannot read the alarms", &error))
                })?;
            states.extend(response.metric_alarms().iter().map(|alarm| {
                AlarmState {
                    name: alarm.alarm_name().unwrap_or_default().to_owned(),
                    state: alarm
                        .state_value()
                        .map(|state| state.as_str().to_owned())
                        .unwrap_or_default(),
                    reason: alarm.state_reason().map(str::to_owned),
                }
            }));
        }
        Ok(states)
    }
}
