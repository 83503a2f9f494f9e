//! Production hardening, checked on the stacks pixelctl deploys to the local AWS
//! (with the stub bootstrap): alarms that reach someone through a topic CloudWatch
//! can publish to, a budget per environment, tighter throttling on the paid routes,
//! access logs of every request, and an artifact store pixelctl trusts only when this
//! account owns it and its objects hash to their names.
#![allow(clippy::unwrap_used)]

mod common;

use common::{LocalAws, Project, http_status, xml_value};
use serde_json::{Value, json};

fn outputs(project: &Project, aws: &LocalAws, env: &str) -> Value {
    project
        .expect(aws, &["outputs", env, "--format", "json"], 0)
        .json()["outputs"]
        .clone()
}

fn describe_alarms(aws: &LocalAws) -> Vec<Value> {
    let answer = aws.aws_json(
        "monitoring",
        "GraniteServiceVersion20100801.DescribeAlarms",
        "1.0",
        &json!({"MaxRecords": 100}),
    );
    answer["MetricAlarms"].as_array().unwrap().clone()
}

#[test]
fn every_environments_alarms_reach_a_topic_cloudwatch_can_publish_to() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    // (environment, Lambda errors threshold, monthly budget, alarm e-mail)
    let environments = [
        ("dev", 20.0, "50", None),
        ("staging", 5.0, "200", None),
        (
            "prod",
            5.0,
            "1000",
            Some("pixel-prompt-oncall@pixelprompt.example"),
        ),
    ];
    for (env, errors_threshold, budget, email) in environments {
        project.deploy(&aws, env, &[], 0);
        let out = outputs(&project, &aws, env);
        let topic = out["AlarmTopicArn"].as_str().unwrap();
        let api = out["FunctionName"].as_str().unwrap();
        let worker = out["WorkerFunctionName"].as_str().unwrap();
        assert_ne!(
            api, worker,
            "{env}: the API and the worker are separate functions"
        );

        // Every alarm of the stack acts on its topic.
        let alarms: Vec<Value> = describe_alarms(&aws)
            .into_iter()
            .filter(|alarm| alarm["AlarmActions"] == json!([topic]))
            .collect();
        assert_eq!(alarms.len(), 10, "{env}: {alarms:#?}");
        assert!(alarms.iter().all(|alarm| alarm["ActionsEnabled"] == true));
        let on = |metric: &str, function: &str| {
            alarms.iter().find(|alarm| {
                alarm["MetricName"] == metric
                    && alarm["Dimensions"]
                        .as_array()
                        .is_some_and(|d| d.iter().any(|d| d["Value"] == function))
            })
        };
        for function in [api, worker] {
            let errors = on("Errors", function)
                .unwrap_or_else(|| panic!("{env}: no Errors alarm on {function}"));
            assert_eq!(errors["Threshold"], errors_threshold, "{env}");
            assert!(
                on("Throttles", function).is_some(),
                "{env}: throttles of {function}"
            );
        }
        // Duration: the HTTP routes and the two-minute jobs apart, by p95.
        let api_duration = on("Duration", api).unwrap();
        let worker_duration = on("Duration", worker).unwrap();
        assert_eq!(
            (
                api_duration["ExtendedStatistic"].as_str(),
                api_duration["Threshold"].as_f64()
            ),
            (Some("p95"), Some(5000.0))
        );
        assert_eq!(worker_duration["Threshold"], 150_000.0, "{env}");
        assert!(on("AsyncEventsDropped", worker).is_some(), "{env}");
        let metrics: Vec<&str> = alarms
            .iter()
            .filter_map(|a| a["MetricName"].as_str())
            .collect();
        assert!(
            metrics.contains(&"5xx"),
            "{env}: API Gateway 5xx: {metrics:?}"
        );
        let queue = out["DeadLetterQueueUrl"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap();
        assert!(
            alarms
                .iter()
                .any(|a| a["Namespace"] == "AWS/SQS" && a["Dimensions"][0]["Value"] == queue),
            "{env}: the dead-letter queue's alarm"
        );
        let failed_share = alarms
            .iter()
            .find(|a| a["Metrics"].as_array().is_some_and(|m| !m.is_empty()))
            .unwrap_or_else(|| panic!("{env}: no alarm on the share of failed generations"));
        let expression = failed_share["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|m| m["Expression"].as_str())
            .unwrap();
        assert!(expression.contains("failed / generated"), "{expression}");

        // The topic is encrypted with a customer-managed key CloudWatch may use
        // (never alias/aws/sns, whose policy cannot grant it).
        let attributes = aws.aws_query(
            "sns",
            "testing",
            &format!(
                "Action=GetTopicAttributes&Version=2010-03-31&TopicArn={}",
                topic.replace(':', "%3A")
            ),
        );
        let key_id = attributes
            .split("<key>KmsMasterKeyId</key>")
            .nth(1)
            .and_then(|rest| xml_value(rest, "value"))
            .unwrap_or_else(|| panic!("{env}: the topic is not encrypted: {attributes}"));
        assert!(!key_id.starts_with("alias/aws/"), "{env}: {key_id}");
        let key = aws.aws_json(
            "kms",
            "TrentService.DescribeKey",
            "1.1",
            &json!({"KeyId": key_id}),
        );
        assert_eq!(key["KeyMetadata"]["KeyManager"], "CUSTOMER");
        let policy = aws.aws_json(
            "kms",
            "TrentService.GetKeyPolicy",
            "1.1",
            &json!({"KeyId": key_id, "PolicyName": "default"}),
        );
        let policy: Value = serde_json::from_str(policy["Policy"].as_str().unwrap()).unwrap();
        let grant = policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| {
                s["Principal"]["Service"]
                    .as_array()
                    .is_some_and(|p| p.contains(&json!("cloudwatch.amazonaws.com")))
            })
            .unwrap_or_else(|| {
                panic!("{env}: the key policy does not let CloudWatch use the key: {policy:#}")
            });
        assert_eq!(grant["Effect"], "Allow");
        let actions = grant["Action"].as_array().unwrap();
        assert!(
            actions.contains(&json!("kms:Decrypt"))
                && actions.contains(&json!("kms:GenerateDataKey*"))
        );

        // Someone is subscribed where the environment names one.
        let subscriptions = aws.aws_query(
            "sns",
            "testing",
            &format!(
                "Action=ListSubscriptionsByTopic&Version=2010-03-31&TopicArn={}",
                topic.replace(':', "%3A")
            ),
        );
        match email {
            Some(address) => {
                assert!(
                    subscriptions.contains(&format!("<Endpoint>{address}</Endpoint>")),
                    "{env}: {subscriptions}"
                );
                assert!(subscriptions.contains("<Protocol>email</Protocol>"));
            }
            None => assert!(
                !subscriptions.contains("<Endpoint>"),
                "{env}: {subscriptions}"
            ),
        }

        // A monthly budget, notified to the same topic.
        let name = format!("pixel-prompt-{env}-monthly");
        let described = aws.aws_json(
            "budgets",
            "AWSBudgetServiceGateway.DescribeBudget",
            "1.1",
            &json!({"AccountId": "123456789012", "BudgetName": name}),
        );
        assert_eq!(
            described["Budget"]["BudgetLimit"]["Amount"], budget,
            "{env}"
        );
        let notifications = aws.aws_json(
            "budgets",
            "AWSBudgetServiceGateway.DescribeNotificationsForBudget",
            "1.1",
            &json!({"AccountId": "123456789012", "BudgetName": name}),
        );
        assert_eq!(
            notifications["Notifications"].as_array().unwrap().len(),
            4,
            "{env}"
        );
    }
}

/// The deployed API at the local AWS's path form (`/_aws/execute-api/{apiId}`).
fn api_path(project: &Project, aws: &LocalAws, env: &str) -> String {
    let endpoint = outputs(project, aws, env)["ApiEndpoint"]
        .as_str()
        .unwrap()
        .to_owned();
    let api_id = endpoint
        .trim_start_matches("https://")
        .split('.')
        .next()
        .unwrap()
        .to_owned();
    format!("/_aws/execute-api/{api_id}")
}

#[test]
fn paid_routes_are_throttled_apart_and_every_request_is_access_logged() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    // A burst of 2 and one request per 100 s: a third quick call is over.
    let dev = project.read("environments/dev.yaml");
    project.write(
        "environments/dev.yaml",
        &format!("{dev}\napi:\n  paid_throttle_burst: 2\n  paid_throttle_rate: 0.01\n"),
    );
    project.deploy(&aws, "dev", &[], 0);
    let base = api_path(&project, &aws, "dev");
    let json_body = [("content-type", "application/json")];
    let call = |method: &str, route: &str| {
        http_status(
            &aws.endpoint,
            method,
            &format!("{base}{route}"),
            &json_body,
            r#"{"prompt":"a fox"}"#,
        )
    };
    for route in ["/generate", "/enhance"] {
        let statuses: Vec<u16> = (0..3).map(|_| call("POST", route).0).collect();
        assert_eq!(statuses, [200, 200, 429], "POST {route}");
        let refused: Value = serde_json::from_str(&call("POST", route).1).unwrap();
        assert_eq!(refused, json!({"message": "Too Many Requests"}));
    }
    // The other routes keep the stage's default limits.
    for _ in 0..5 {
        assert_eq!(call("GET", "/gallery/list").0, 200);
    }

    // Every request, the gateway's refusals included, is in the access log.
    let group = outputs(&project, &aws, "dev")["AccessLogGroup"]
        .as_str()
        .unwrap()
        .to_owned();
    let events = aws.aws_json(
        "logs",
        "Logs_20140328.FilterLogEvents",
        "1.1",
        &json!({"logGroupName": group}),
    );
    let lines: Vec<Value> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| serde_json::from_str(event["message"].as_str().unwrap()).unwrap())
        .collect();
    // 13 requests here, and the deploy's own health check.
    assert_eq!(lines.len(), 14, "{lines:#?}");
    for line in &lines {
        assert!(!line["requestId"].as_str().unwrap().is_empty());
        assert_eq!(line["ip"], "127.0.0.1");
        assert!(
            line["latencyMs"].as_str().unwrap().parse::<u64>().is_ok(),
            "{line}"
        );
    }
    let count = |route: &str, status: &str| {
        lines
            .iter()
            .filter(|l| l["routeKey"] == route && l["status"] == status)
            .count()
    };
    assert_eq!(
        (
            count("POST /generate", "200"),
            count("POST /generate", "429")
        ),
        (2, 2)
    );
    assert_eq!(count("GET /gallery/list", "200"), 6);
    let throttled = lines.iter().find(|l| l["status"] == "429").unwrap();
    assert_eq!(throttled["error"], "Too Many Requests");
    let served = lines.iter().find(|l| l["status"] == "200").unwrap();
    assert_eq!(served["integrationStatus"], "200", "{served}");
}

#[test]
fn an_artifact_bucket_of_another_account_is_refused() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    // Someone who knows the account id creates the store's name first, in their account.
    let theirs = aws.other_account_key("111111111111");
    aws.s3_raw(
        "PUT",
        "/pixelctl-artifacts-123456789012-us-west-2",
        &theirs,
        "<CreateBucketConfiguration><LocationConstraint>us-west-2</LocationConstraint></CreateBucketConfiguration>",
    );
    let run = project.deploy(&aws, "dev", &[], 1);
    assert!(
        run.stderr
            .contains("is not owned by this AWS account (123456789012)"),
        "{}",
        run.stderr
    );
    // Nothing was written into it, and no stack was made from it.
    let listed = aws.s3_raw(
        "GET",
        "/pixelctl-artifacts-123456789012-us-west-2?list-type=2",
        &theirs,
        "",
    );
    assert!(!listed.contains("<Key>"), "{listed}");
    let stacks = block_on_stacks(&aws);
    assert!(stacks.is_empty(), "{stacks:?}");
}

fn block_on_stacks(aws: &LocalAws) -> Vec<String> {
    common::block_on(aws.cloudformation().list_stacks().send())
        .unwrap()
        .stack_summaries()
        .iter()
        .filter(|s| {
            s.stack_status()
                .is_some_and(|status| status.as_str() != "DELETE_COMPLETE")
        })
        .filter_map(|s| s.stack_name().map(str::to_owned))
        .collect()
}

#[test]
fn an_artifact_that_does_not_hash_to_its_name_is_never_deployed() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    let first = project.deploy(&aws, "dev", &[], 0).json();
    let bucket = first["artifact"]["bucket"].as_str().unwrap().to_owned();
    let key = first["artifact"]["key"].as_str().unwrap().to_owned();
    // Someone with write access swaps the bytes behind the content-hash key.
    aws.s3_raw(
        "PUT",
        &format!("/{bucket}/{key}"),
        "testing",
        "not the zip that was built",
    );
    // Another environment deploying the same build must not take them on trust.
    let run = project.deploy(&aws, "staging", &[], 1);
    assert!(
        run.stderr.contains("does not hold what its name says"),
        "{}",
        run.stderr
    );
    assert!(!block_on_stacks(&aws).contains(&"pixel-prompt-staging".to_owned()));
}
