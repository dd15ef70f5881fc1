//! The EKS adapter's 2026 calls on aws-smithy-mocks: CancelUpdate, StartInsightsRefresh,
//! DescribeInsightsRefresh, and UpdateClusterVersion answered as a VersionRollback or
//! with the 409 EKS sends right after a cluster turns ACTIVE, and DescribeClusterVersions
//! offering 1.36 and 1.37.

use aws_sdk_eks::operation::cancel_update::CancelUpdateOutput;
use aws_sdk_eks::operation::describe_insights_refresh::DescribeInsightsRefreshOutput;
use aws_sdk_eks::operation::start_insights_refresh::StartInsightsRefreshOutput;
use aws_sdk_eks::operation::update_cluster_version::UpdateClusterVersionOutput;
use aws_sdk_eks::types as sdk;
use aws_sdk_eks::Client;
use aws_smithy_mocks::mock;
use aws_smithy_types::DateTime;

use keelson::model::live::{UpdateStatus, UpdateType};
use keelson::ports::*;

use super::aws_mocks::{aws_error, calls, eks, CLUSTER};

fn update(id: &str, t: sdk::UpdateType, s: sdk::UpdateStatus) -> sdk::Update {
    sdk::Update::builder()
        .id(id)
        .r#type(t)
        .status(s)
        .params(
            sdk::UpdateParam::builder()
                .r#type(sdk::UpdateParamType::Version)
                .value("1.34")
                .build(),
        )
        .build()
}

#[tokio::test]
async fn a_lower_version_is_reported_as_a_version_rollback_and_can_be_cancelled() {
    let up = mock!(Client::update_cluster_version)
        .match_requests(|r| r.name() == Some(CLUSTER) && r.version() == Some("1.34"))
        .then_output(|| {
            UpdateClusterVersionOutput::builder()
                .update(update(
                    "u-1",
                    sdk::UpdateType::VersionRollback,
                    sdk::UpdateStatus::InProgress,
                ))
                .build()
        });
    let cancel = mock!(Client::cancel_update)
        .match_requests(|r| r.name() == Some(CLUSTER) && r.update_id() == Some("u-1"))
        .then_output(|| {
            CancelUpdateOutput::builder()
                .update(update(
                    "u-1",
                    sdk::UpdateType::VersionRollback,
                    sdk::UpdateStatus::Cancelled,
                ))
                .build()
        });
    let eks = eks(&[&up, &cancel]);
    let u = eks.update_cluster_version(CLUSTER, "1.34").await.unwrap();
    assert_eq!(u.update_type, UpdateType::VersionRollback);
    assert_eq!(u.status, UpdateStatus::InProgress);
    assert_eq!(u.params.get("Version").map(String::as_str), Some("1.34"));
    let c = eks.cancel_update(CLUSTER, "u-1").await.unwrap();
    assert_eq!(c.status, UpdateStatus::Cancelled);
    assert_eq!(calls(&eks, "CancelUpdate"), 1);
}

#[tokio::test]
async fn cancelling_what_eks_cannot_cancel_is_an_invalid_request() {
    let cancel = mock!(Client::cancel_update).then_http_response(|| {
        aws_error(
            400,
            "InvalidRequestException",
            "Only VersionRollback updates of EKS Auto Mode clusters can be cancelled",
        )
    });
    let eks = eks(&[&cancel]);
    let err = eks.cancel_update(CLUSTER, "u-9").await.unwrap_err();
    assert!(
        matches!(&err, ApiError::InvalidRequest(m) if m.contains("CancelUpdate") && m.contains(CLUSTER)),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_409_right_after_active_is_resource_in_use_and_not_retried_by_the_sdk() {
    let busy = mock!(Client::update_cluster_version).then_http_response(|| {
        aws_error(
            409,
            "ResourceInUseException",
            "Cannot VersionUpdate because cluster prod-eu currently has update u-0 in progress",
        )
    });
    let eks = eks(&[&busy]);
    let err = eks
        .update_cluster_version(CLUSTER, "1.35")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ApiError::ResourceInUse(m) if m.contains("currently has update")),
        "{err:?}"
    );
    // The executor owns that wait (it backs off for minutes); the SDK does not retry it.
    assert_eq!(calls(&eks, "UpdateClusterVersion"), 1);
}

#[tokio::test]
async fn an_insights_refresh_is_started_and_described_with_its_times() {
    let start = mock!(Client::start_insights_refresh)
        .match_requests(|r| r.cluster_name() == Some(CLUSTER))
        .then_output(|| {
            StartInsightsRefreshOutput::builder()
                .status(sdk::InsightsRefreshStatus::InProgress)
                .message("Insights refresh started")
                .build()
        });
    let describe = mock!(Client::describe_insights_refresh)
        .match_requests(|r| r.cluster_name() == Some(CLUSTER))
        .then_output(|| {
            DescribeInsightsRefreshOutput::builder()
                .status(sdk::InsightsRefreshStatus::Completed)
                .started_at(DateTime::from_secs(1_795_392_000))
                .ended_at(DateTime::from_secs(1_795_392_060))
                .build()
        });
    let eks = eks(&[&start, &describe]);
    let r = eks.start_insights_refresh(CLUSTER).await.unwrap();
    assert_eq!(r.status, RefreshStatus::InProgress);
    assert_eq!(r.message.as_deref(), Some("Insights refresh started"));
    let d = eks.describe_insights_refresh(CLUSTER).await.unwrap();
    assert_eq!(d.status, RefreshStatus::Completed);
    assert_eq!(d.started_at, Some(1_795_392_000));
    assert_eq!(d.ended_at, Some(1_795_392_060));
    assert_eq!(calls(&eks, "StartInsightsRefresh"), 1);
    assert_eq!(calls(&eks, "DescribeInsightsRefresh"), 1);
}

#[tokio::test]
async fn a_failed_refresh_is_reported_as_failed() {
    let describe = mock!(Client::describe_insights_refresh).then_output(|| {
        DescribeInsightsRefreshOutput::builder()
            .status(sdk::InsightsRefreshStatus::Failed)
            .message("internal error")
            .build()
    });
    let eks = eks(&[&describe]);
    let d = eks.describe_insights_refresh(CLUSTER).await.unwrap();
    assert_eq!(d.status, RefreshStatus::Failed);
    assert_eq!(d.message.as_deref(), Some("internal error"));
}

#[tokio::test]
async fn the_calendar_read_from_describe_cluster_versions_offers_1_36_and_1_37() {
    use aws_sdk_eks::operation::describe_cluster_versions::DescribeClusterVersionsOutput;
    use keelson::plan::upgrade::{support_gate, Outcome};
    use keelson::versions::{Calendar, Date, Minor};
    let version = |v: &str, dates: [i64; 3]| {
        sdk::ClusterVersionInformation::builder()
            .cluster_version(v)
            .version_status(sdk::VersionStatus::StandardSupport)
            .release_date(DateTime::from_secs(dates[0]))
            .end_of_standard_support_date(DateTime::from_secs(dates[1]))
            .end_of_extended_support_date(DateTime::from_secs(dates[2]))
            .build()
    };
    // 1.36 as eks-2026.md §1.9 lists it; 1.37's dates are this answer's, not a fact:
    // whatever the account reports is what the support gate judges with.
    let answer = mock!(Client::describe_cluster_versions)
        .match_requests(|r| r.include_all() == Some(true))
        .then_output(move || {
            DescribeClusterVersionsOutput::builder()
                .cluster_versions(version(
                    "1.36",
                    [1_780_358_400, 1_817_164_800, 1_848_787_200],
                ))
                .cluster_versions(version(
                    "1.37",
                    [1_790_812_800, 1_827_619_200, 1_859_241_600],
                ))
                .build()
        });
    let eks = eks(&[&answer]);
    let v = eks.describe_cluster_versions().await.unwrap();
    let names: Vec<&str> = v.iter().map(|v| v.version.as_str()).collect();
    assert_eq!(names, ["1.36", "1.37"]);
    let cal = Calendar::from_target(&v).unwrap();
    let today = Date::new(2026, 11, 29);
    assert_eq!(cal.available(today), vec![Minor::v1(36), Minor::v1(37)]);
    // A hop to 1.37 passes the support gate on the account's calendar, while keelson's
    // built-in table (which stops at 1.36) can only warn that it does not know 1.37.
    assert_eq!(
        support_gate(Minor::v1(37), today, &cal).outcome,
        Outcome::Pass
    );
    assert_eq!(
        support_gate(Minor::v1(37), today, &Calendar::builtin()).outcome,
        Outcome::Warn
    );
}
