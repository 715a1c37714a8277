//! `qoljetim generate budget`: realistic synthetic data, seeded and repeatable. 20 regions, ~210
//! district and ~2,250 rural budgets; republican spending ≈ 26.28 trillion tenge and local ≈ 14.9
//! trillion in 2026 (FACTS.md); education the largest local function; December-heavy execution;
//! paid ≤ registered obligations ≤ plan on every row. Amounts are integers in tiyn.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Int8Array, Int16Array, Int32Array, Int64Array, RecordBatch};
use qoljetim_domain::kato::REGIONS;

use crate::BudgetError;
use crate::files::{PendingFile, commit, discard, write_pending};
use crate::model::{DATASETS, DatasetSpec, district_of, region_of};

/// SplitMix64: small, fast and the same on every machine for a seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    pub fn weighted<T: Copy>(&mut self, items: &[(T, f64)]) -> T {
        let total: f64 = items.iter().map(|i| i.1).sum();
        let mut x = self.unit() * total;
        for (item, w) in items {
            if x < *w {
                return *item;
            }
            x -= w;
        }
        items[items.len() - 1].0
    }
}

/// A budget: level (0 republican … 3 rural) and KATO (0 for the republican budget).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub level: i8,
    pub kato: i64,
}

/// The budgets of the country: republican, 20 regional, districts of the 17 oblasts, rural districts.
pub fn budgets() -> Vec<Budget> {
    let mut out = vec![Budget { level: 0, kato: 0 }];
    for (ri, r) in REGIONS.iter().enumerate() {
        let region: i64 = r.code.parse().unwrap_or(0);
        out.push(Budget {
            level: 1,
            kato: region,
        });
        if r.republican_city {
            continue;
        }
        let districts = 11 + (ri * 7 + 3) % 4;
        for d in 0..districts {
            let district = region + (10 + 2 * d as i64) * 100_000;
            out.push(Budget {
                level: 2,
                kato: district,
            });
            let rural = 9 + (ri + d * 3) % 4;
            for e in 0..rural {
                out.push(Budget {
                    level: 3,
                    kato: district + (10 + 2 * e as i64) * 1_000,
                });
            }
        }
    }
    out
}

const MONTH_WEIGHTS: [f64; 12] = [
    0.055, 0.065, 0.07, 0.072, 0.074, 0.076, 0.075, 0.072, 0.076, 0.078, 0.085, 0.222,
];

/// Functional-group shares of spending by level.
fn groups(level: i8) -> &'static [(i8, f64)] {
    match level {
        0 => &[
            (15, 0.22),
            (6, 0.20),
            (4, 0.08),
            (5, 0.09),
            (3, 0.08),
            (14, 0.08),
            (2, 0.07),
            (12, 0.06),
            (1, 0.05),
            (10, 0.03),
            (8, 0.02),
            (9, 0.01),
            (7, 0.005),
            (11, 0.005),
        ],
        1 => &[
            (4, 0.30),
            (7, 0.14),
            (12, 0.11),
            (6, 0.08),
            (5, 0.07),
            (3, 0.06),
            (15, 0.08),
            (1, 0.05),
            (8, 0.05),
            (10, 0.03),
            (11, 0.03),
        ],
        2 => &[
            (4, 0.40),
            (7, 0.15),
            (12, 0.10),
            (6, 0.09),
            (1, 0.08),
            (8, 0.06),
            (10, 0.05),
            (11, 0.03),
            (13, 0.04),
        ],
        _ => &[
            (4, 0.30),
            (1, 0.30),
            (7, 0.20),
            (12, 0.10),
            (8, 0.05),
            (13, 0.05),
        ],
    }
}

fn administrator(rng: &mut Rng, level: i8, group: i8, republican_city: bool) -> i16 {
    match (level, group) {
        (0, 15) | (0, 14) | (0, 1) => [217, 217, 104][rng.below(3)],
        (0, 6) => 213,
        (0, 4) => 225,
        (0, 5) => 226,
        (0, 3) => 201,
        (0, 2) => 208,
        (0, 12) => 215,
        (0, 10) => 212,
        (0, 9) => 235,
        (0, _) => 217,
        (1, 3) => {
            if republican_city {
                352
            } else {
                252
            }
        }
        (1, 4) => 261,
        (1, 5) => 253,
        (1, 6) => 256,
        (1, 7) => 279,
        (1, 12) => 268,
        (1, 1) => [120, 112, 257][rng.below(3)],
        (1, _) => 257,
        (2, 4) => 464,
        (2, 6) => 451,
        (2, 12) => 485,
        (2, 1) => [120, 112][rng.below(2)],
        (2, _) => 120,
        _ => 123,
    }
}

const SPECIFICS: [(i16, f64); 16] = [
    (111, 0.30),
    (112, 0.05),
    (113, 0.02),
    (121, 0.03),
    (122, 0.02),
    (124, 0.02),
    (141, 0.03),
    (142, 0.03),
    (144, 0.02),
    (149, 0.04),
    (151, 0.05),
    (152, 0.01),
    (159, 0.20),
    (169, 0.06),
    (421, 0.06),
    (431, 0.06),
];

/// What was generated.
#[derive(Debug, Clone, Default)]
pub struct Generated {
    pub rows: Vec<(String, usize)>,
    pub budgets: usize,
}

fn year_scale(y: i16) -> f64 {
    1.07_f64.powi(i32::from(y) - 2026)
}

/// Executed share of a month in a year, as of late November 2026.
fn executed(y: i16, month: i8) -> f64 {
    match y {
        ..=2025 => 1.0,
        2026 if month <= 10 => 1.0,
        2026 if month == 11 => 0.4,
        _ => 0.0,
    }
}

fn col16(v: Vec<i16>) -> ArrayRef {
    Arc::new(Int16Array::from(v))
}
fn col8(v: Vec<i8>) -> ArrayRef {
    Arc::new(Int8Array::from(v))
}
fn col64(v: Vec<i64>) -> ArrayRef {
    Arc::new(Int64Array::from(v))
}
fn col32(v: Vec<i32>) -> ArrayRef {
    Arc::new(Int32Array::from(v))
}

fn spec(name: &str) -> Result<&'static DatasetSpec, BudgetError> {
    DATASETS
        .iter()
        .find(|d| d.name == name)
        .ok_or_else(|| BudgetError::Engine(format!("no dataset {name}")))
}

fn batch(spec: &DatasetSpec, cols: Vec<ArrayRef>) -> Result<RecordBatch, BudgetError> {
    Ok(RecordBatch::try_new(spec.schema(), cols)?)
}

/// Expenditure of one year: `rows` monthly cells, scaled to the year's totals.
pub fn expenditure(
    rng: &mut Rng,
    all: &[Budget],
    year: i16,
    rows: usize,
) -> Result<RecordBatch, BudgetError> {
    let by_level: Vec<Vec<Budget>> = (0..4)
        .map(|l| all.iter().copied().filter(|b| b.level == l).collect())
        .collect();
    // Tiyn: republican 26.28 trn tenge; local 14.9 trn split 55/35/10 (2026, scaled for other years).
    let totals =
        [2.628e15, 1.49e15 * 0.55, 1.49e15 * 0.35, 1.49e15 * 0.10].map(|t| t * year_scale(year));
    let level_rows = [0.30, 0.20, 0.35, 0.15];
    let cities: Vec<i64> = REGIONS
        .iter()
        .filter(|r| r.republican_city)
        .filter_map(|r| r.code.parse().ok())
        .collect();
    let mut cells = Vec::with_capacity(rows);
    let mut weights = Vec::with_capacity(rows);
    let mut sums = [0.0f64; 4];
    for i in 0..rows {
        let level = {
            let x = (i as f64 + 0.5) / rows as f64;
            let mut acc = 0.0;
            let mut l = 3;
            for (k, share) in level_rows.iter().enumerate() {
                acc += share;
                if x < acc {
                    l = k;
                    break;
                }
            }
            l as i8
        };
        let list = &by_level[level as usize];
        let b = list[rng.below(list.len())];
        let month = rng.weighted(
            &(1..=12)
                .map(|m| (m as i8, MONTH_WEIGHTS[m - 1]))
                .collect::<Vec<_>>(),
        );
        let group = rng.weighted(groups(level));
        let admin = administrator(rng, level, group, cities.contains(&region_of(b.kato)));
        let program = 1 + rng.below(40) as i16;
        let subprogram = [0i16, 11, 15, 100][rng.below(4)];
        let specifics = rng.weighted(&SPECIFICS);
        // Spending concentrates in December; a heavy-tailed size per cell.
        let w = MONTH_WEIGHTS[(month - 1) as usize] * 12.0 * (0.2 + rng.unit().powi(2) * 3.0);
        sums[level as usize] += w;
        cells.push((b, month, group, admin, program, subprogram, specifics));
        weights.push(w);
    }
    let n = cells.len();
    let (mut fy, mut mo, mut lv, mut kato, mut region, mut district) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut fg, mut ad, mut pr, mut sp, mut ec) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut m: Vec<Vec<i64>> = (0..9).map(|_| Vec::with_capacity(n)).collect();
    for ((b, month, group, admin, program, subprogram, specifics), w) in
        cells.into_iter().zip(weights)
    {
        let level = b.level as usize;
        let approved = (totals[level] * w / sums[level].max(1e-9)).round() as i64;
        let refined = (approved as f64 * (0.98 + rng.unit() * 0.07)).round() as i64;
        let corrected = (refined as f64 * (0.98 + rng.unit() * 0.05)).round() as i64;
        let share = executed(year, month);
        let registered = (corrected as f64 * share * (0.85 + rng.unit() * 0.15)).round() as i64;
        let paid = (registered as f64 * (0.90 + rng.unit() * 0.10)).round() as i64;
        let plan_to_date = (corrected as f64 * share).round() as i64;
        fy.push(year);
        mo.push(month);
        lv.push(b.level);
        kato.push(b.kato);
        region.push(region_of(b.kato));
        district.push(district_of(b.kato, b.level));
        fg.push(group);
        ad.push(admin);
        pr.push(program);
        sp.push(subprogram);
        ec.push(specifics);
        for (k, v) in [
            approved,
            refined,
            corrected,
            corrected,
            plan_to_date,
            plan_to_date,
            registered,
            paid,
            registered - paid,
        ]
        .into_iter()
        .enumerate()
        {
            m[k].push(v);
        }
    }
    let mut cols: Vec<ArrayRef> = vec![
        col16(fy),
        col8(mo),
        col8(lv),
        col64(kato),
        col64(region),
        col64(district),
        col8(fg),
        col16(ad),
        col16(pr),
        col16(sp),
        col16(ec),
    ];
    cols.extend(m.into_iter().map(col64));
    batch(spec("expenditure")?, cols)
}

const REVENUE_CODES: [(i32, f64); 10] = [
    (101101, 0.12),
    (101201, 0.14),
    (103101, 0.08),
    (105101, 0.25),
    (105201, 0.05),
    (104101, 0.04),
    (201101, 0.03),
    (206101, 0.02),
    (301101, 0.02),
    (401301, 0.25),
];

pub fn revenue(
    rng: &mut Rng,
    all: &[Budget],
    year: i16,
    rows: usize,
) -> Result<RecordBatch, BudgetError> {
    let n = rows.max(1);
    let (mut fy, mut mo, mut lv, mut kato, mut region, mut district, mut code, mut plan, mut exec) = (
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
    );
    for _ in 0..n {
        let b = all[rng.below(all.len())];
        let month = 1 + rng.below(12) as i8;
        let c = rng.weighted(&REVENUE_CODES);
        let base = if b.level == 0 {
            2.289e15
        } else {
            1.2e15 / all.len() as f64 * 3.0
        };
        let p = (base / n as f64
            * 12.0
            * MONTH_WEIGHTS[(month - 1) as usize]
            * (0.3 + rng.unit() * 1.4)
            * year_scale(year))
        .round() as i64;
        let e = (p as f64 * executed(year, month) * (0.9 + rng.unit() * 0.15)).round() as i64;
        fy.push(year);
        mo.push(month);
        lv.push(b.level);
        kato.push(b.kato);
        region.push(region_of(b.kato));
        district.push(district_of(b.kato, b.level));
        code.push(c);
        plan.push(p);
        exec.push(e);
    }
    batch(
        spec("revenue")?,
        vec![
            col16(fy),
            col8(mo),
            col8(lv),
            col64(kato),
            col64(region),
            col64(district),
            col32(code),
            col64(plan),
            col64(exec),
        ],
    )
}

pub fn budget_applications(
    rng: &mut Rng,
    all: &[Budget],
    year: i16,
    rows: usize,
) -> Result<RecordBatch, BudgetError> {
    let n = rows.max(1);
    let cities: Vec<i64> = REGIONS
        .iter()
        .filter(|r| r.republican_city)
        .filter_map(|r| r.code.parse().ok())
        .collect();
    let (
        mut fy,
        mut lv,
        mut kato,
        mut region,
        mut district,
        mut fg,
        mut ad,
        mut pr,
        mut sp,
        mut ec,
        mut y1,
        mut y2,
        mut y3,
    ) = (
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
    );
    for _ in 0..n {
        let b = all[rng.below(all.len())];
        let group = rng.weighted(groups(b.level));
        let base = if b.level == 0 {
            2.8e15
        } else {
            1.6e15 / all.len() as f64 * 4.0
        } / n as f64
            * (0.3 + rng.unit() * 1.4)
            * year_scale(year);
        fy.push(year);
        lv.push(b.level);
        kato.push(b.kato);
        region.push(region_of(b.kato));
        district.push(district_of(b.kato, b.level));
        fg.push(group);
        ad.push(administrator(
            rng,
            b.level,
            group,
            cities.contains(&region_of(b.kato)),
        ));
        pr.push(1 + rng.below(40) as i16);
        sp.push([0i16, 11, 15, 100][rng.below(4)]);
        ec.push(rng.weighted(&SPECIFICS));
        y1.push(base.round() as i64);
        y2.push((base * 1.05).round() as i64);
        y3.push((base * 1.10).round() as i64);
    }
    batch(
        spec("budget_applications")?,
        vec![
            col16(fy),
            col8(lv),
            col64(kato),
            col64(region),
            col64(district),
            col8(fg),
            col16(ad),
            col16(pr),
            col16(sp),
            col16(ec),
            col64(y1),
            col64(y2),
            col64(y3),
        ],
    )
}

pub fn indicators(
    rng: &mut Rng,
    all: &[Budget],
    year: i16,
    rows: usize,
) -> Result<RecordBatch, BudgetError> {
    let n = rows.max(1);
    let cities: Vec<i64> = REGIONS
        .iter()
        .filter(|r| r.republican_city)
        .filter_map(|r| r.code.parse().ok())
        .collect();
    let (
        mut fy,
        mut lv,
        mut kato,
        mut region,
        mut district,
        mut ad,
        mut pr,
        mut ind,
        mut plan,
        mut actual,
    ) = (
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
    );
    for _ in 0..n {
        let b = all[rng.below(all.len())];
        let group = rng.weighted(groups(b.level));
        let p = 100 + rng.below(10_000) as i64;
        fy.push(year);
        lv.push(b.level);
        kato.push(b.kato);
        region.push(region_of(b.kato));
        district.push(district_of(b.kato, b.level));
        ad.push(administrator(
            rng,
            b.level,
            group,
            cities.contains(&region_of(b.kato)),
        ));
        pr.push(1 + rng.below(40) as i16);
        ind.push(1 + rng.below(20) as i32);
        plan.push(p);
        actual.push(
            (p as f64 * executed(year, 12).max(0.6) * (0.8 + rng.unit() * 0.3)).round() as i64,
        );
    }
    batch(
        spec("indicators")?,
        vec![
            col16(fy),
            col8(lv),
            col64(kato),
            col64(region),
            col64(district),
            col16(ad),
            col16(pr),
            col32(ind),
            col64(plan),
            col64(actual),
        ],
    )
}

/// Generates `rows` expenditure rows (and proportionate other datasets) for `years` into the data
/// folder `root`, as version "generated", and publishes them.
pub fn generate(
    root: &Path,
    rows: usize,
    seed: u64,
    years: &[i16],
) -> Result<Generated, BudgetError> {
    let mut rng = Rng::new(seed);
    let all = budgets();
    let per_year = (rows / years.len().max(1)).max(1);
    let mut pending: Vec<PendingFile> = vec![];
    let mut out = Generated {
        rows: vec![],
        budgets: all.len(),
    };
    let result = (|| -> Result<(), BudgetError> {
        for &y in years {
            let sets = [
                expenditure(&mut rng, &all, y, per_year)?,
                revenue(&mut rng, &all, y, per_year / 20)?,
                budget_applications(&mut rng, &all, y, per_year / 10)?,
                indicators(&mut rng, &all, y, per_year / 100)?,
            ];
            for (spec, b) in DATASETS.iter().zip(sets) {
                out.rows.push((
                    format!("{}/{} {y}", spec.system.as_str(), spec.name),
                    b.num_rows(),
                ));
                pending.push(write_pending(
                    root,
                    spec,
                    y,
                    "generated",
                    std::slice::from_ref(&b),
                )?);
            }
        }
        Ok(())
    })();
    match result {
        Ok(()) => {
            commit(root, pending)?;
            Ok(out)
        }
        Err(e) => {
            discard(&pending);
            Err(e)
        }
    }
}
