//! A create whose wait cannot reach EKS: the create call went through, then every poll
//! fails (here: throttled, injected on the simulator). The wait gives up after the
//! executor's outage budget, not the 90-minute limit of a slow operation, says so, and the
//! next run finds the cluster again instead of creating it twice.

use std::sync::Arc;

use keelson::adapters::faults::{FaultSpec, Faults};
use keelson::adapters::instrumented::{instrument, Timeouts};
use keelson::apply::{self, ApplyOptions, Quiet};
use keelson::plan::Action;

use crate::simkit::{self, T0};
use crate::util::load;

const FLEET: &str = "apiVersion: keelson.dev/v1alpha1\nkind: Fleet\nmetadata: {name: wait}\nspec:\n  stages: [{name: prod}]\n";
const CLUSTER: &str = "apiVersion: keelson.dev/v1alpha1\nkind: Cluster\nmetadata: {name: waited}\nspec:\n  region: eu-west-1\n  version: \"1.34\"\n  stage: prod\n  roleArn: arn:aws:iam::123456789012:role/eks-cluster\n  vpc:\n    subnetIds: [subnet-0a1b2c3d4e5f60001, subnet-0a1b2c3d4e5f60002]\n";

#[tokio::test]
async fn a_create_whose_wait_cannot_reach_eks_fails_after_the_outage_budget_and_is_found_again() {
    let loaded = load(&[("keelson.yaml", FLEET), ("c/cluster.yaml", CLUSTER)]);
    let sim = simkit::sim();
    let plan = simkit::plan_for(&sim, &loaded).await;
    assert_eq!(simkit::steps(&plan), ["Create Cluster waited"]);

    // Every DescribeCluster fails from now on; CreateCluster goes through.
    let spec = FaultSpec::parse("burst=DescribeCluster:1000000").unwrap();
    let faults: &'static Faults = Box::leak(Box::new(Faults::new(spec)));
    let ports = instrument(simkit::ports(&sim), Timeouts::default(), None, Some(faults));
    let report = apply::apply(&ports, &plan, ApplyOptions::default(), Arc::new(Quiet)).await;
    let failure = report.clusters[0].error.as_ref().expect("the wait fails");
    assert!(
        failure.message.contains("EKS could not be reached for"),
        "{}",
        failure.message
    );
    assert!(
        failure.message.contains("idempotency token"),
        "{}",
        failure.message
    );
    assert!(failure.is_transient(), "the daemon retries it later");
    let waited = simkit::sim_now(&sim) - T0;
    assert!(
        (300..=10 * 60).contains(&waited),
        "gave up after the outage budget, not the 90-minute limit: {waited} s"
    );

    // The next run: the cluster is there (created by the call whose wait failed).
    let again = simkit::plan_for(&sim, &loaded).await;
    assert!(
        again
            .clusters
            .iter()
            .flat_map(|c| &c.steps)
            .all(|s| s.action != Action::Create),
        "{:?}",
        simkit::steps(&again)
    );
}
