//! Helpers for tests that run against the simulator.

use std::collections::BTreeSet;
use std::sync::Arc;

use keelson::adapters::sim::{Sim, SimState, Speed};
use keelson::apply::{self, ApplyOptions, Quiet};
use keelson::config::Loaded;
use keelson::observe::{self, Ports, Scope};
use keelson::plan::{self, Plan, PlanOptions};

/// The simulator's clock at the start of every test: 2026-11-23T00:00:00Z.
pub const T0: i64 = 1_795_392_000;

pub fn sim() -> Sim {
    Sim::in_memory(SimState::new(T0), Speed::Instant)
}

pub fn ports(sim: &Sim) -> Ports {
    Ports {
        eks: Arc::new(sim.clone()),
        kube: Arc::new(sim.clone()),
        clock: Arc::new(sim.clone()),
    }
}

/// Everything in the repository, as `keelson plan` scopes it.
pub fn scope(loaded: &Loaded) -> Scope {
    keelson::sync::scope_for(loaded, &BTreeSet::new(), 4).expect("scope")
}

/// Observe the simulator and plan `loaded` against it.
pub async fn plan_for(sim: &Sim, loaded: &Loaded) -> Plan {
    let p = ports(sim);
    let live = observe::observe(&p, &scope(loaded)).await.expect("observe");
    plan::plan(
        &loaded.repo,
        &live,
        &PlanOptions {
            only: BTreeSet::new(),
            now: sim_now(sim),
            ignore_gates: BTreeSet::new(),
            apis: plan::builtin_apis(),
        },
    )
}

pub fn sim_now(sim: &Sim) -> i64 {
    sim.snapshot().now
}

/// Plan and apply until there is nothing left to do; panics if the apply fails.
pub async fn converge(sim: &Sim, loaded: &Loaded) {
    let plan = plan_for(sim, loaded).await;
    assert!(!plan.is_blocked(), "{}", plan::render::text(&plan));
    let report = apply::apply(&ports(sim), &plan, ApplyOptions::default(), Arc::new(Quiet)).await;
    assert!(report.ok(), "{report:?}");
}

/// Step summaries `ACTION Kind name` of a plan, in order.
pub fn steps(plan: &Plan) -> Vec<String> {
    plan.clusters
        .iter()
        .flat_map(|c| {
            c.steps
                .iter()
                .map(|s| format!("{:?} {} {}", s.action, s.resource.kind, s.resource.name))
        })
        .collect()
}
