//! The demand file and the buying model (SPEC §5).
//!
//! ```yaml
//! headroom: 0.2            # optional, default 0.2
//! workloads:
//!   - {name: postgres, cores: 48, memory_gb: 1200, storage_gb: 8000}
//! catalog:                 # optional; default: the make/models of the inventory
//!   - {make: Dell, model: PowerEdge R650, cores: 64, memory_gb: 512, storage_gb: 15360, cost: 11200}
//! ```
//!
//! Units: `memory_gb` is GiB (RAM is sold in binary units: a "32 GB" DIMM holds 32 GiB) and
//! `storage_gb` is decimal GB (a "1.92 TB" drive holds 1.92 × 10¹² bytes), so demand, inventory and
//! node facts compare like for like.
//!
//! The model: required = Σ demand × (1 + headroom); deficit = required − capacity; for each
//! catalog model the count is the largest ⌈deficit / per-unit⌉ over the resources in deficit; the
//! cheapest total wins (models without a cost rank after priced ones), then the fewest units, then
//! make/model order.
//!
//! Every amount is bounded ([`MAX_AMOUNT`], [`MAX_HEADROOM`], [`MAX_UNITS`]): a value like
//! `cores: 1.6e308` is finite on its own but its sum times the headroom is not, and nothing
//! downstream (counts, costs, chart axes) should have to cope with infinity.

use serde::{Deserialize, Serialize};

use super::ReconcileError;
use super::report::{CapacityPlan, Prose, Recommendation, Resource, ResourceLine};

/// Headroom when the demand file does not say (the SPEC's example value).
pub const DEFAULT_HEADROOM: f64 = 0.2;

/// Deficits and ratios this close to a whole number are that number (float noise, not demand).
const EPSILON: f64 = 1e-9;

/// The largest amount (cores, GiB, GB, cost) a demand, catalog or inventory figure may state:
/// far beyond any real machine or workload (a million TB), far below where sums and products of
/// amounts stop being finite.
pub const MAX_AMOUNT: f64 = 1e12;

/// The largest headroom: 100 = 10,000 % on top of the demand.
pub const MAX_HEADROOM: f64 = 100.0;

/// A catalog model needing more units than this is not an option: its per-unit figures (or the
/// demand) are wrong, and the count would no longer be an exact integer.
pub const MAX_UNITS: f64 = 1e9;

/// A parsed demand file.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Demand {
    /// Fraction added on top of the demand (0.2 = 20 %).
    #[serde(default = "default_headroom")]
    pub headroom: f64,
    /// What has to run.
    #[serde(default)]
    pub workloads: Vec<Workload>,
    /// What one can buy; `None` = derive it from the inventory and the registered nodes.
    #[serde(default)]
    pub catalog: Option<Vec<CatalogEntry>>,
}

fn default_headroom() -> f64 {
    DEFAULT_HEADROOM
}

/// One workload's demand.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// Name, shown in recommendations.
    pub name: String,
    /// Physical cores.
    #[serde(default)]
    pub cores: f64,
    /// Memory, GiB.
    #[serde(default)]
    pub memory_gb: f64,
    /// Storage, GB.
    #[serde(default)]
    pub storage_gb: f64,
}

impl Workload {
    fn amount(&self, resource: Resource) -> f64 {
        match resource {
            Resource::Cores => self.cores,
            Resource::Memory => self.memory_gb,
            Resource::Storage => self.storage_gb,
        }
    }
}

/// A machine one can buy, with what one unit brings.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogEntry {
    /// Make.
    pub make: String,
    /// Model.
    pub model: String,
    /// Physical cores per unit.
    #[serde(default)]
    pub cores: f64,
    /// Memory per unit, GiB.
    #[serde(default)]
    pub memory_gb: f64,
    /// Storage per unit, GB.
    #[serde(default)]
    pub storage_gb: f64,
    /// Price per unit, any currency (the same one for every entry).
    #[serde(default)]
    pub cost: Option<f64>,
}

impl CatalogEntry {
    /// What one unit brings of `resource`.
    pub fn per_unit(&self, resource: Resource) -> f64 {
        match resource {
            Resource::Cores => self.cores,
            Resource::Memory => self.memory_gb,
            Resource::Storage => self.storage_gb,
        }
    }
}

/// Amounts of each resource (capacity or demand).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Amounts {
    /// Physical cores.
    pub cores: f64,
    /// GiB of memory.
    pub memory_gib: f64,
    /// GB of storage.
    pub storage_gb: f64,
}

impl Amounts {
    /// The amount of `resource`.
    pub fn get(&self, resource: Resource) -> f64 {
        match resource {
            Resource::Cores => self.cores,
            Resource::Memory => self.memory_gib,
            Resource::Storage => self.storage_gb,
        }
    }
}

/// Parses and checks a demand file; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Demand, ReconcileError> {
    let invalid = |message: String| ReconcileError::Demand {
        path: file.to_owned(),
        message,
    };
    let demand: Demand = if text.trim().is_empty() {
        return Err(invalid(
            "the file is empty; it needs at least `workloads:`".into(),
        ));
    } else {
        crate::input::yaml::from_str(text, crate::input::MAX_DEMAND_BYTES)
            .map_err(|e| invalid(e.to_string()))?
    };
    // A range excludes NaN and the infinities too.
    let valid = |x: f64| (0.0..=MAX_AMOUNT).contains(&x);
    if !(0.0..=MAX_HEADROOM).contains(&demand.headroom) {
        return Err(invalid(format!(
            "headroom {:?} must be a fraction from 0 to 100 (0.2 = 20 %)",
            demand.headroom
        )));
    }
    for w in &demand.workloads {
        if w.name.trim().is_empty() {
            return Err(invalid("a workload has an empty name".into()));
        }
        if !Resource::ALL.iter().all(|r| valid(w.amount(*r))) {
            return Err(invalid(format!(
                "workload {:?}: cores, memory_gb and storage_gb must be numbers from 0 to 10^12",
                w.name
            )));
        }
    }
    // Bounded values give finite totals unless there are absurdly many workloads; checked here so
    // the buying model can rely on it.
    for resource in Resource::ALL {
        let total: f64 = demand.workloads.iter().map(|w| w.amount(resource)).sum();
        if !(total * (1.0 + demand.headroom)).is_finite() {
            return Err(invalid(format!(
                "the total {} demand with headroom is not a finite number",
                resource.as_str()
            )));
        }
    }
    for c in demand.catalog.iter().flatten() {
        if !Resource::ALL.iter().all(|r| valid(c.per_unit(*r))) || !c.cost.is_none_or(valid) {
            return Err(invalid(format!(
                "catalog entry {} {}: cores, memory_gb, storage_gb and cost must be numbers from 0 \
                 to 10^12",
                c.make, c.model
            )));
        }
    }
    Ok(demand)
}

/// Runs the buying model: the capacity plan, and the recommendation when something must be bought.
pub fn plan(
    demand: &Demand,
    capacity: Amounts,
    active_nodes: usize,
    catalog: Vec<CatalogEntry>,
) -> (CapacityPlan, Option<Recommendation>) {
    let lines: Vec<ResourceLine> = Resource::ALL
        .iter()
        .map(|&resource| {
            let total: f64 = demand.workloads.iter().map(|w| w.amount(resource)).sum();
            let required = total * (1.0 + demand.headroom);
            ResourceLine {
                resource,
                demand: total,
                workloads: demand
                    .workloads
                    .iter()
                    .map(|w| (w.name.clone(), w.amount(resource)))
                    .collect(),
                required,
                capacity: capacity.get(resource),
                deficit: required - capacity.get(resource),
            }
        })
        .collect();
    let short: Vec<&ResourceLine> = lines.iter().filter(|l| l.deficit > EPSILON).collect();
    let mut plan = CapacityPlan {
        headroom: demand.headroom,
        active_nodes,
        lines: lines.clone(),
        catalog,
        options: Vec::new(),
        note: None,
    };
    if short.is_empty() {
        plan.note = Some(format!(
            "capacity covers the demand with {}% headroom: nothing to buy",
            percent(demand.headroom)
        ));
        return (plan, None);
    }
    if plan.catalog.is_empty() {
        plan.note = Some(
            "there is a deficit but no catalog: add `catalog:` to the demand file, or give the \
             inventory rows a make and model"
                .into(),
        );
        return (plan, None);
    }
    let mut options: Vec<Recommendation> = Vec::new();
    let mut too_many = false;
    for entry in &plan.catalog {
        match option_for(entry, &short, demand) {
            Ok(option) => options.push(option),
            Err(NoOption::TooMany) => too_many = true,
            Err(NoOption::Lacks) => {}
        }
    }
    options.sort_by(|a, b| {
        let cost = |r: &Recommendation| r.total_cost.unwrap_or(f64::INFINITY);
        (a.total_cost.is_none(), cost(a))
            .partial_cmp(&(b.total_cost.is_none(), cost(b)))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.count.cmp(&b.count))
            .then_with(|| (&a.make, &a.model).cmp(&(&b.make, &b.model)))
    });
    let chosen = options.first().cloned();
    plan.options = options;
    if chosen.is_none() {
        let missing: Vec<&str> = short.iter().map(|l| l.resource.as_str()).collect();
        plan.note = Some(if too_many {
            format!(
                "covering the shortfall of {} would take more than 10^9 units of any catalog \
                 model that provides it: check the demand and the catalog's per-unit figures",
                missing.join(" and ")
            )
        } else {
            format!(
                "no catalog model provides {}: add per-unit figures to the catalog",
                missing.join(" and ")
            )
        });
    }
    (plan, chosen)
}

/// Why a catalog model is not an option.
enum NoOption {
    /// It brings none of a resource in deficit.
    Lacks,
    /// It would take more than [`MAX_UNITS`].
    TooMany,
}

/// How many units of `entry` cover the deficits.
fn option_for(
    entry: &CatalogEntry,
    short: &[&ResourceLine],
    demand: &Demand,
) -> Result<Recommendation, NoOption> {
    let mut count = 0u64;
    let mut worst: Option<(f64, Resource)> = None;
    for line in short {
        let per_unit = entry.per_unit(line.resource);
        if per_unit <= 0.0 {
            return Err(NoOption::Lacks);
        }
        let ratio = line.deficit / per_unit;
        // Infinity too (a per-unit figure of 1e-300): only a ratio up to MAX_UNITS is a count.
        if ratio.is_nan() || ratio > MAX_UNITS {
            return Err(NoOption::TooMany);
        }
        // Exact: the ratio is positive and at most MAX_UNITS.
        count = count.max((ratio - EPSILON).ceil().max(1.0) as u64);
        if worst.is_none_or(|(r, _)| ratio > r + EPSILON) {
            worst = Some((ratio, line.resource));
        }
    }
    let (_, limiting) = worst.ok_or(NoOption::Lacks)?;
    let mut workloads: Vec<(&str, f64)> = demand
        .workloads
        .iter()
        .map(|w| (w.name.as_str(), w.amount(limiting)))
        .filter(|(_, amount)| *amount > 0.0)
        .collect();
    workloads.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    let total_cost = entry.cost.map(|c| c * count as f64);
    Ok(Recommendation {
        make: entry.make.clone(),
        model: entry.model.clone(),
        count,
        limiting,
        workloads: workloads.into_iter().map(|(n, _)| n.to_owned()).collect(),
        unit_cost: entry.cost,
        total_cost,
        message: Prose::new()
            .say(&format!("buy {count} more of "))
            .value(&format!("{} {}", entry.make, entry.model))
            .say(&format!("; {} is the limit", limiting.as_str())),
    })
}

/// `0.2` → `20`.
pub fn percent(fraction: f64) -> String {
    let p = fraction * 100.0;
    if (p - p.round()).abs() < 1e-6 {
        format!("{}", p.round())
    } else {
        format!("{p:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(model: &str, cores: f64, mem: f64, storage: f64, cost: Option<f64>) -> CatalogEntry {
        CatalogEntry {
            make: "Dell".into(),
            model: model.into(),
            cores,
            memory_gb: mem,
            storage_gb: storage,
            cost,
        }
    }

    fn demand(cores: f64, mem: f64, storage: f64) -> Demand {
        Demand {
            headroom: 0.0,
            workloads: vec![Workload {
                name: "db".into(),
                cores,
                memory_gb: mem,
                storage_gb: storage,
            }],
            catalog: None,
        }
    }

    #[test]
    fn count_is_the_max_over_resources_and_names_the_limit() {
        let d = demand(100.0, 1000.0, 0.0);
        let (_, rec) = plan(
            &d,
            Amounts::default(),
            0,
            vec![entry("R650", 64.0, 256.0, 0.0, None)],
        );
        let rec = rec.unwrap();
        // cores: ⌈100/64⌉ = 2; memory: ⌈1000/256⌉ = 4.
        assert_eq!(rec.count, 4);
        assert_eq!(rec.limiting, Resource::Memory);
        assert_eq!(rec.message, "buy 4 more of Dell R650; memory is the limit");
    }

    #[test]
    fn headroom_and_capacity_enter_the_deficit() {
        let mut d = demand(100.0, 0.0, 0.0);
        d.headroom = 0.5; // required 150
        let capacity = Amounts {
            cores: 86.0,
            ..Amounts::default()
        }; // deficit 64 → exactly one unit, not two
        let (p, rec) = plan(&d, capacity, 2, vec![entry("R650", 64.0, 0.0, 0.0, None)]);
        assert_eq!(rec.unwrap().count, 1);
        assert!((p.lines[0].deficit - 64.0).abs() < 1e-9);
    }

    #[test]
    fn cheapest_total_wins_then_fewest_units() {
        let d = demand(128.0, 0.0, 0.0);
        let small = entry("small", 32.0, 0.0, 0.0, Some(1000.0)); // 4 units, 4000
        let big = entry("big", 64.0, 0.0, 0.0, Some(2500.0)); // 2 units, 5000
        let (_, rec) = plan(&d, Amounts::default(), 0, vec![big.clone(), small.clone()]);
        assert_eq!(rec.unwrap().model, "small");
        let same_price = entry("big", 64.0, 0.0, 0.0, Some(2000.0)); // 2 units, 4000
        let (_, rec) = plan(&d, Amounts::default(), 0, vec![small, same_price]);
        assert_eq!(rec.unwrap().model, "big");
    }

    #[test]
    fn priced_models_rank_before_unpriced_ones() {
        let d = demand(128.0, 0.0, 0.0);
        let unpriced = entry("a", 128.0, 0.0, 0.0, None);
        let priced = entry("b", 32.0, 0.0, 0.0, Some(10.0));
        let (_, rec) = plan(&d, Amounts::default(), 0, vec![unpriced, priced]);
        assert_eq!(rec.unwrap().model, "b");
    }

    #[test]
    fn no_deficit_means_no_recommendation_and_a_note() {
        let d = demand(10.0, 10.0, 10.0);
        let capacity = Amounts {
            cores: 100.0,
            memory_gib: 100.0,
            storage_gb: 100.0,
        };
        let (p, rec) = plan(&d, capacity, 1, vec![entry("x", 1.0, 1.0, 1.0, None)]);
        assert!(rec.is_none());
        assert!(p.note.unwrap().contains("nothing to buy"));
    }

    #[test]
    fn a_model_without_the_missing_resource_is_not_an_option() {
        let d = demand(0.0, 0.0, 1000.0);
        let (p, rec) = plan(
            &d,
            Amounts::default(),
            0,
            vec![entry("x", 8.0, 8.0, 0.0, None)],
        );
        assert!(rec.is_none());
        assert!(p.note.unwrap().contains("storage"));
    }

    #[test]
    fn demand_file_is_checked() {
        let ok = parse(
            "headroom: 0.1\nworkloads:\n  - {name: db, cores: 8, memory_gb: 64}\n",
            "demand.yaml",
        )
        .unwrap();
        assert_eq!(ok.workloads[0].storage_gb, 0.0);
        assert!(ok.catalog.is_none());
        assert_eq!(
            parse("workloads: []\n", "d").unwrap().headroom,
            DEFAULT_HEADROOM
        );
        for bad in [
            "headroom: -1\n",
            "workloads:\n  - {name: db, cores: -2}\n",
            "workload: []\n",
            "",
            "catalog:\n  - {make: a, model: b, cost: -1}\n",
        ] {
            let err = parse(bad, "demand.yaml").unwrap_err();
            assert!(err.to_string().contains("demand.yaml"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn huge_amounts_are_refused_per_key() {
        for (bad, says) in [
            (
                "workloads:\n  - {name: db, cores: 1.6e308}\n  - {name: b, cores: 1.6e308}\n",
                "workload \"db\": cores, memory_gb and storage_gb must be numbers from 0 to 10^12",
            ),
            ("headroom: 1e300\nworkloads: []\n", "headroom 1e300"),
            (
                "workloads: []\ncatalog:\n  - {make: a, model: b, cores: 1, cost: 1e13}\n",
                "catalog entry a b",
            ),
            (
                "workloads:\n  - {name: db, memory_gb: .inf}\n",
                "workload \"db\"",
            ),
        ] {
            let err = parse(bad, "demand.yaml").unwrap_err().to_string();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
        let most = parse(
            "headroom: 100\nworkloads:\n  - {name: db, cores: 1e12, memory_gb: 1e12}\n",
            "demand.yaml",
        )
        .unwrap();
        assert_eq!(most.workloads[0].cores, MAX_AMOUNT);
    }

    #[test]
    fn an_absurd_unit_count_is_no_option_and_never_saturates() {
        let d = demand(MAX_AMOUNT, 0.0, 0.0);
        let tiny = entry("tiny", 1e-300, 0.0, 0.0, Some(1.0));
        let (p, rec) = plan(&d, Amounts::default(), 0, vec![tiny.clone()]);
        assert!(rec.is_none());
        assert!(p.note.unwrap().contains("more than 10^9 units"));
        // A sane model next to it is still recommended, with an exact count.
        let big = entry("big", 1e6, 0.0, 0.0, None);
        let (p, rec) = plan(&d, Amounts::default(), 0, vec![tiny, big]);
        assert_eq!(rec.unwrap().count, 1_000_000);
        assert_eq!(p.options.len(), 1);
    }
}
