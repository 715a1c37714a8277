//! `qoljetim`: the command line of the service.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use jiff::Timestamp;
use qoljetim::AnyError;
use qoljetim::config::Config;
use qoljetim_devca::{KeyKind, Subject};
use qoljetim_domain::{Bin, Iin, OrganizationKind, Role};
use qoljetim_signature::{KeyPurpose, NcaRole};
use qoljetim_store::{Change, Store};
use serde_json::json;

/// mimalloc instead of glibc's allocator (issue 20): a request allocates and frees many small
/// buffers across two threads, where glibc's arenas cost a sixth of a small read's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "qoljetim",
    version,
    about = "Read-only access to the budget-process information systems (Order No. 270)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Common {
    /// TOML configuration file (see qoljetim.example.toml); default ./qoljetim.toml if present.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Data folder (SQLite database, development CA, demo certificates).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Args, Clone)]
struct Listen {
    /// Address to listen on.
    #[arg(long)]
    listen: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service.
    Serve {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        listen: Listen,
    },
    /// Seed the demo (organizations, people, development CA, applications in every state) and serve.
    Demo {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        listen: Listen,
    },
    /// A development stand-in for NCALayer on this machine (plain ws://): the pages sign with the demo
    /// person's development keys through it. The demo points its pages here.
    #[command(name = "dev-ncalayer")]
    DevNcalayer {
        #[command(flatten)]
        common: Common,
        /// The demo person whose keys sign (their IIN, as in <data_dir>/demo/people.json).
        #[arg(long)]
        person: String,
        #[arg(long, default_value = "127.0.0.1:13579")]
        listen: String,
        /// Cancel every signing dialog (to see the page's message).
        #[arg(long)]
        cancel: bool,
    },
    /// A development stand-in for the eGov apps' QR signing: signs what a page's QR code asks for
    /// (paste the code's text, shown under the code) with a demo person's development key, as the
    /// phone would, and prints the server's answer.
    #[command(name = "dev-egov-app")]
    DevEgovApp {
        #[command(flatten)]
        common: Common,
        /// The demo person whose key signs (their IIN, as in <data_dir>/demo/people.json).
        #[arg(long)]
        person: String,
        /// Which of their keys the app signs with: `authentication` (sign-in) or `signing`
        /// (documents). Which key the real app uses is not published (docs/egov-mobile.md).
        #[arg(long, default_value = "authentication")]
        key: String,
        /// The QR code's text (`mobileSign:https://…`) or the eGov business cross-link.
        scanned: String,
    },
    /// Signs a demo person in to a running server with their development authentication key and
    /// prints the session token (for scripts and API clients: `Authorization: Bearer <token>`).
    #[command(name = "dev-token")]
    DevToken {
        #[command(flatten)]
        common: Common,
        /// The demo person (their IIN, as in <data_dir>/demo/people.json).
        #[arg(long)]
        person: String,
        /// The server, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        base: String,
    },
    /// Run the database migrations.
    Migrate {
        #[command(flatten)]
        common: Common,
    },
    /// Operator staff.
    #[command(subcommand)]
    Staff(StaffCmd),
    /// The organization registry.
    #[command(subcommand)]
    Org(OrgCmd),
    /// Access grants.
    #[command(subcommand)]
    Grants(GrantsCmd),
    /// The development CA (test certificates in the NCA profile; refused in production mode).
    #[command(subcommand, name = "dev-ca")]
    DevCa(DevCaCmd),
    /// The audit chain.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Issue 21: back up the data folder with a consistent copy of the SQLite database, the budget
    /// data and its manifest, and the audit checkpoints, into a new folder (backup.json lists every
    /// file with its SHA-256). While the server runs.
    Backup {
        #[command(flatten)]
        common: Common,
        /// The new folder to write.
        #[arg(long)]
        to: PathBuf,
        /// PostgreSQL: copy everything but the database (take pg_dump for it; docs/deployment.md).
        #[arg(long)]
        files_only: bool,
    },
    /// Issue 21: restore a backup into a data folder that holds no database yet, checking every file
    /// against backup.json; then the audit chain is verified against the restored checkpoints.
    Restore {
        #[command(flatten)]
        common: Common,
        /// The backup folder.
        #[arg(long)]
        from: PathBuf,
    },
    /// Issue 21: print a new sign-in challenge key for `[sign_in] challenge_key` (base64 of 32 random
    /// bytes). Give every instance on one database the same key.
    #[command(name = "challenge-key")]
    ChallengeKey,
    /// A development RFC 3161 time-stamp authority over HTTP (the development CA's TSA certificate),
    /// for trying `[audit] tsa_url` out. Never trusted in production mode.
    #[command(name = "dev-tsa")]
    DevTsa {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value = "127.0.0.1:3161")]
        listen: String,
    },
    /// Benchmarks.
    #[command(subcommand)]
    Bench(BenchCmd),
    /// Load budget data (CSV or Parquet; docs/budget-data.md). The server never writes budget data.
    #[command(subcommand)]
    Import(ImportCmd),
    /// Write seeded synthetic data.
    #[command(subcommand)]
    Generate(GenerateCmd),
    /// The background worker: HR checks, expiry, reminders, deadline monitor, e-mail outbox.
    #[command(subcommand)]
    Jobs(JobsCmd),
    /// HR registry files: personnel lists (file adapter) and personnel orders (dismissals, transfers).
    #[command(subcommand)]
    Hr(HrCmd),
    /// Reports: deadline compliance and the access registry (JSON, CSV, PDF).
    #[command(subcommand)]
    Report(ReportCmd),
    /// Online lessons (Order 270 §12–§13): TOML files in Kazakh and Russian.
    #[command(subcommand)]
    Lessons(LessonsCmd),
    /// Change requests (Order 270 §10).
    #[command(subcommand)]
    Changes(ChangesCmd),
    /// Recertification campaigns (issue 17): the organization's head confirms each live grant.
    #[command(subcommand)]
    Recertification(RecertificationCmd),
}

#[derive(Subcommand)]
enum RecertificationCmd {
    /// Opens a campaign for an organization: one line per grant live now; its head answers by the
    /// deadline of `[recertification] answer_working_days`. Audited under the operator's name.
    Open {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        bin: String,
    },
}

#[derive(Subcommand)]
enum ChangesCmd {
    /// Record which approved change requests a deployed version implements (each must be approved).
    /// Audited; shown at GET /api/v1/deployments.
    Deployed {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        version: String,
        /// Comma-separated ids of approved change requests.
        #[arg(long, value_delimiter = ',')]
        implements: Vec<i64>,
    },
}

#[derive(Subcommand)]
enum LessonsCmd {
    /// Checks every lesson file of a folder: both languages, every question with its right choice,
    /// at least 5 questions; each broken rule named with its file and line (exit 1).
    Check {
        /// The folder of lesson files (*.toml).
        #[arg(default_value = "lessons")]
        dir: PathBuf,
    },
    /// Checks and loads the lessons of a folder into the database (Order 270 §12): new versions are
    /// added, a loaded version whose text changed is refused (raise its version), nothing is loaded
    /// when any file breaks a rule. Audited.
    Load {
        #[command(flatten)]
        common: Common,
        #[arg(default_value = "lessons")]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum JobsCmd {
    /// One pass of every job, then exit (for operators and tests).
    RunOnce {
        #[command(flatten)]
        common: Common,
        /// Run as if the clock stood at this instant (RFC 3339), e.g. to replay a day.
        #[arg(long)]
        at: Option<Timestamp>,
    },
    /// The e-mail outbox, or the messages in one status (pending, sending, sent, uncertain, failed).
    Outbox {
        #[command(flatten)]
        common: Common,
        #[arg(long, value_parser = ["pending", "sending", "sent", "uncertain", "failed"])]
        status: Option<String>,
    },
    /// Put an uncertain or failed e-mail back in the queue (after checking the relay's log).
    Resend {
        #[command(flatten)]
        common: Common,
        id: i64,
    },
}

#[derive(Subcommand)]
enum HrCmd {
    /// Import personnel lists (CSV: bin,iin,position[,unit]); replaces the posts of the organizations named.
    ImportPersonnel {
        #[command(flatten)]
        common: Common,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Import personnel orders (CSV: event_id,kind,iin,bin,effective_date,order_number[,order_date,new_position]).
    ImportOrders {
        #[command(flatten)]
        common: Common,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ReportCmd {
    /// Deadline compliance for a period.
    Deadlines {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        from: jiff::civil::Date,
        #[arg(long)]
        to: jiff::civil::Date,
        #[arg(long, default_value = "json", value_parser = ["json", "csv", "pdf"])]
        format: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// The access registry on a day (default today).
    Registry {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        on: Option<jiff::civil::Date>,
        #[arg(long, default_value = "json", value_parser = ["json", "csv", "pdf"])]
        format: String,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum ImportCmd {
    /// Import budget data files into <data_dir>/budget; all or nothing.
    Budget {
        #[command(flatten)]
        common: Common,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum GenerateCmd {
    /// Generate realistic synthetic budget data into <data_dir>/budget (version "generated").
    Budget {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        #[arg(long, value_delimiter = ',', default_value = "2025,2026,2027")]
        years: Vec<i16>,
    },
}

#[derive(Subcommand)]
enum StaffCmd {
    /// Register a reviewer (authorized body) or an integrator administrator.
    Add {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        org: String,
        #[arg(long)]
        iin: String,
        #[arg(long, value_parser = ["reviewer", "integrator_admin", "support_agent"])]
        role: String,
    },
    /// Remove a staff role (issue 17); the person's sessions in that organization end. Audited.
    Remove {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        org: String,
        #[arg(long)]
        iin: String,
        #[arg(long, value_parser = ["reviewer", "integrator_admin", "support_agent"])]
        role: String,
    },
}

#[derive(Subcommand)]
enum GrantsCmd {
    /// Re-derive the scope of the live grants of one organization kind from the competence rules in
    /// force (after a change of the rules file, Order 270 §6); one audit record per changed grant.
    Rederive {
        #[command(flatten)]
        common: Common,
        /// The applicant kind whose grants to re-derive.
        #[arg(long, value_parser = applicant_kinds())]
        kind: String,
        /// Show what would change, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// End one live grant now, with a reason (issue 17: status revoked). Audited.
    Revoke {
        #[command(flatten)]
        common: Common,
        /// The grant's id.
        id: i64,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
enum OrgCmd {
    /// Register an organization (the first integrator is registered this way; later ones through the API).
    Add {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        bin: String,
        /// The kinds of Order 270 §2.6 and the operators'; the two excluded by §2.6 are listed so that
        /// their refusal can say why.
        #[arg(long, value_parser = organization_kinds())]
        kind: String,
        #[arg(long)]
        name_kk: String,
        #[arg(long)]
        name_ru: String,
        #[arg(long)]
        territory: Option<String>,
        /// Comma-separated administrator codes (central internal audit).
        #[arg(long, value_delimiter = ',')]
        administrators: Vec<String>,
    },
    /// Edit an organization's names, territory and administrator codes (issue 17); grants made before
    /// keep their scope, new grants take the new territory. Audited.
    Edit {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        bin: String,
        #[arg(long)]
        name_kk: String,
        #[arg(long)]
        name_ru: String,
        #[arg(long)]
        territory: Option<String>,
        #[arg(long, value_delimiter = ',')]
        administrators: Vec<String>,
    },
    /// Deactivate an organization (issue 17): its live grants are blocked and its sessions end; it
    /// applies no more. Audited.
    Deactivate {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        bin: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)]
enum DevCaCmd {
    /// Create the development CAs in <data_dir>/dev-ca (kept if they exist): one of --key's family
    /// and a GOST 34.10-2015 one in dev-ca/gost.
    Init {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value = "rsa", value_parser = ["rsa", "p256"])]
        key: String,
    },
    /// Issue a test certificate in the NCA profile and write <out>/<stem>.pem and <stem>.key.pem.
    Issue {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        surname: String,
        #[arg(long)]
        name: String,
        /// Written to GIVENNAME, as the NCA does.
        #[arg(long)]
        patronymic: Option<String>,
        #[arg(long)]
        iin: String,
        /// BIN of the organization (legal entity's employee); omit for an individual.
        #[arg(long)]
        bin: Option<String>,
        #[arg(long, default_value = "Организация")]
        org_name: String,
        /// The NCA role of the certificate.
        #[arg(long, default_value = "employee", value_parser = ["first_head", "signing_right", "financial_signing", "hr", "employee", "information_system"])]
        role: String,
        /// Signing key or authentication key.
        #[arg(long, value_parser = ["sign", "auth"])]
        purpose: String,
        /// GOST keys are issued by the GOST development CA.
        #[arg(long, default_value = "rsa", value_parser = ["rsa", "p256", "gost2004", "gost2015"])]
        key: String,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        stem: String,
    },
    /// Revoke a certificate of a development CA and publish its CRL again (dev-ca/ca.crl or
    /// dev-ca/gost/ca.crl); a running server reads it at its next CRL refresh.
    Revoke {
        #[command(flatten)]
        common: Common,
        /// The certificate (PEM or DER) to revoke.
        #[arg(long)]
        cert: PathBuf,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Recompute the chain; names the first broken link and exits 1 if there is one. Then compare it
    /// with the signed checkpoints (issue 21), which catch a chain rewritten whole: exits 1 when one
    /// disagrees.
    Verify {
        #[command(flatten)]
        common: Common,
        /// Checkpoint folders to compare with (repeat for several instances' folders). Default:
        /// `[audit] checkpoint_dir`.
        #[arg(long)]
        checkpoints: Vec<PathBuf>,
        /// The checkpoint public key (SPKI PEM). Default: `[audit] checkpoint_public_key`, else the
        /// public half of the checkpoint key.
        #[arg(long)]
        public_key: Option<PathBuf>,
    },
    /// Sign the chain head now and append it to the checkpoint folder (as the server does every
    /// `[audit] checkpoint_minutes`), e.g. right before a PostgreSQL dump.
    Checkpoint {
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand)]
enum BenchCmd {
    /// CMS verifications/s, sign-ins/s and 100-line application latency, on SQLite and PostgreSQL.
    Workflow {
        /// The people's signature families, in turn (GOST keys under the GOST development CA).
        #[arg(long, value_delimiter = ',', default_value = "rsa,gost2015", value_parser = ["rsa", "p256", "gost2004", "gost2015"])]
        keys: Vec<String>,
        #[arg(long, default_value_t = 16)]
        clients: usize,
        #[arg(long, default_value_t = 4000)]
        logins: usize,
        #[arg(long, default_value_t = 40)]
        applications: usize,
        /// PostgreSQL admin URL (a fresh database is created and dropped); default QOLJETIM_TEST_POSTGRES_URL.
        #[arg(long)]
        postgres_url: Option<String>,
    },
    /// Small signed-in reads (GET /me, audited): req/s and p50/p99 at each connection count, on
    /// SQLite and PostgreSQL (issue 20).
    Reads {
        #[arg(long, value_delimiter = ',', default_value = "16,64")]
        connections: Vec<usize>,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// PostgreSQL admin URL (a fresh database is created and dropped); default QOLJETIM_TEST_POSTGRES_URL.
        #[arg(long)]
        postgres_url: Option<String>,
    },
    /// Signature verifications per second by family: RSA-2048, ECDSA P-256, GOST 2004, GOST 2015-512.
    Signatures {
        /// Seconds per family.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
    },
    /// Every page of every role, answered server-side over HTTP: p50/p95/max per page (issue 13:
    /// p95 within 50 ms), on SQLite and PostgreSQL.
    Pages {
        #[arg(long, default_value_t = 200)]
        iterations: usize,
        /// Applications in the world (all states present).
        #[arg(long, default_value_t = 20)]
        applications: usize,
        /// Lines per application (and rows of the checked composing form).
        #[arg(long, default_value_t = 20)]
        lines: usize,
        /// Synthetic budget rows (2025–2027) for the explorer's pages; 0 leaves the explorer out.
        #[arg(long, default_value_t = 200_000)]
        rows: usize,
        /// PostgreSQL admin URL (a fresh database is created and dropped); default QOLJETIM_TEST_POSTGRES_URL.
        #[arg(long)]
        postgres_url: Option<String>,
    },
    /// Scoped budget queries: p50/p95 through HTTP and directly in the engine.
    Data {
        #[arg(long, default_value_t = 10_000_000)]
        rows: usize,
        /// Where the generated data is kept (reused when it exists with the same row count).
        #[arg(long, default_value = "data-bench")]
        data_dir: PathBuf,
        #[arg(long, default_value_t = 30)]
        iterations: usize,
    },
    /// The Qoljetim side of scripts/compare-duckdb: sets up as `data`, then answers JSON commands on
    /// standard input (see crates/app/src/bench.rs `data_peer`).
    DataPeer {
        #[arg(long, default_value_t = 10_000_000)]
        rows: usize,
        #[arg(long, default_value = "data-bench")]
        data_dir: PathBuf,
    },
}

fn config(common: &Common, listen: Option<&Listen>) -> Result<Config, AnyError> {
    let mut cfg = Config::load(common.config.as_deref())?;
    if let Some(d) = &common.data_dir {
        cfg.data_dir = d.clone();
    }
    if let Some(l) = listen.and_then(|l| l.listen.clone()) {
        cfg.listen = l;
    }
    Ok(cfg)
}

/// The organization kinds `org add` takes (the §2.6 exclusions included, to be refused with the clause).
fn organization_kinds() -> clap::builder::PossibleValuesParser {
    let mut v: Vec<&'static str> = qoljetim_domain::OrganizationKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    v.extend(qoljetim_domain::org::EXCLUDED_KINDS);
    clap::builder::PossibleValuesParser::new(v)
}

/// The applicant kinds (those with a competence rule).
fn applicant_kinds() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        qoljetim_domain::OrganizationKind::ALL
            .iter()
            .filter(|k| k.is_applicant())
            .map(|k| k.as_str()),
    )
}

/// A use case's refusal as the command line prints it: the problem and each field's rule.
fn refusal(e: qoljetim_service::ServiceError) -> String {
    let fields = e
        .errors
        .iter()
        .map(|f| format!("{}: {} ({})", f.field, f.detail, f.rule))
        .chain(e.problem.args().iter().map(|(k, v)| format!("{k}={v}")))
        .collect::<Vec<_>>();
    format!("refused ({}): {}", e.slug(), fields.join("; "))
}

fn cli_user() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    )
}

async fn open_store(cfg: &Config) -> Result<Store, AnyError> {
    std::fs::create_dir_all(&cfg.data_dir)?;
    Ok(Store::open(&cfg.database_url()).await?)
}

fn key_kind(s: &str) -> Result<KeyKind, AnyError> {
    match s {
        "rsa" => Ok(KeyKind::Rsa2048),
        "p256" => Ok(KeyKind::P256),
        "gost2004" => Ok(KeyKind::Gost2004),
        "gost2015" => Ok(KeyKind::Gost2015_512),
        other => Err(format!("--key must be rsa, p256, gost2004 or gost2015, not {other}").into()),
    }
}

/// `audit verify`: the chain, then the checkpoints (issue 21). Exit 1 on either's failure.
async fn verify_audit(
    cfg: &Config,
    folders: &[PathBuf],
    public_key: Option<&std::path::Path>,
) -> Result<ExitCode, AnyError> {
    // Reads only: the store and the TSA anchors, not the whole service (whose start-up may write).
    let store = open_store(cfg).await?;
    let report = store.verify_audit_chain().await?;
    match report.first_broken {
        None => println!(
            "audit chain intact: {} records, head {}",
            report.records, report.head
        ),
        Some((seq, why)) => {
            println!("audit chain BROKEN: first broken link at record {seq}: {why}");
            return Ok(ExitCode::FAILURE);
        }
    }
    let folders = if folders.is_empty() {
        vec![cfg.checkpoint_dir()]
    } else {
        folders.to_vec()
    };
    let mut checkpoints = vec![];
    for f in &folders {
        checkpoints.extend(qoljetim_service::CheckpointLog::in_folder(f).read()?);
    }
    if checkpoints.is_empty() {
        println!(
            "no audit checkpoints in {}: the chain is checked against itself only",
            folders
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(ExitCode::SUCCESS);
    }
    let public = qoljetim::cluster::checkpoint_public_key(cfg, public_key)?;
    let tsa = qoljetim_signature::Verifier::new(vec![])
        .with_tsa_anchors(qoljetim::pki::tsa_anchors(cfg)?);
    let r = qoljetim_service::verify_checkpoints(&store, &tsa, &checkpoints, &public)
        .await
        .map_err(|e| format!("{}: {:?}", e.slug(), e.problem.args()))?;
    for (seq, why) in &r.disagreeing {
        println!("checkpoint DISAGREES at record {seq}: {why}");
    }
    match (&r.last_agreeing, r.agrees()) {
        (Some((seq, at)), true) => println!(
            "audit checkpoints agree: {} of {} (key {}), {} time-stamped; the last vouches for record {seq} at {at}",
            r.agreeing,
            checkpoints.len(),
            public.id,
            r.time_stamped
        ),
        _ => {
            println!(
                "audit chain does NOT match its checkpoints: {} of {} disagree",
                r.disagreeing.len(),
                checkpoints.len()
            );
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn run(cli: Cli) -> Result<ExitCode, AnyError> {
    match cli.command {
        Command::Serve { common, listen } => {
            let cfg = config(&common, Some(&listen))?;
            init_log(&cfg.log);
            let server = qoljetim::start_server(&cfg, qoljetim_domain::Clock::system())
                .await?
                .with_worker(&cfg)?;
            println!(
                "qoljetim listening on http://{} ({})",
                server.addr,
                cfg.database_url().split('?').next().unwrap_or("")
            );
            stop_signal().await?;
            println!(
                "qoljetim stopping: answering the requests in flight, finishing the worker's job"
            );
            server.stop().await;
            println!("qoljetim stopped");
        }
        Command::Demo { common, listen } => {
            let mut cfg = config(&common, Some(&listen))?;
            cfg.pki.trust_dev_ca = true;
            // The demo's people sign with development keys: its pages use the development NCALayer
            // (`qoljetim dev-ncalayer`) unless the configuration names another address.
            if cfg.pages.ncalayer_url == qoljetim::config::PagesSection::default().ncalayer_url {
                cfg.pages.ncalayer_url = "ws://127.0.0.1:13579".into();
            }
            if cfg.production {
                return Err("the demo runs only outside production mode".into());
            }
            // Every demo role signs in from this one machine (the seeding, the walkthrough, the
            // development NCALayer): the demo allows ten times the default rate per address.
            let defaults = qoljetim::config::LimitsSection::default();
            if cfg.limits.sign_ins_per_address_per_minute
                == defaults.sign_ins_per_address_per_minute
            {
                cfg.limits.sign_ins_per_address_per_minute *= 10;
            }
            init_log(&cfg.log);
            let demo_dir = cfg.data_dir.join("demo");
            let (ca, gost_ca) =
                qoljetim::devca_files::init_both(&cfg.dev_ca_dir(), KeyKind::Rsa2048)?;
            let budget = qoljetim::budget_dir(&cfg);
            if qoljetim_budget::engine::current_files(&budget, &qoljetim_budget::DATASETS[0])
                .is_empty()
            {
                println!(
                    "generating a small budget data set (200,000 expenditure rows, 2025–2027)…"
                );
                qoljetim_budget::generate::generate(&budget, 200_000, 2026, &[2025, 2026, 2027])?;
            }
            let (addr, state) = qoljetim::spawn_server(&cfg).await?;
            let base = format!("http://{addr}");
            if demo_dir.join("seeded").exists() {
                println!("demo data already seeded in {}", demo_dir.display());
            } else {
                println!("seeding the demo (development CA, people, applications in every state)…");
                let people =
                    qoljetim::demo::make_people(&ca, &gost_ca, &demo_dir, KeyKind::Rsa2048)?;
                qoljetim::demo::seed_registry(&state.store, &people).await?;
                qoljetim::demo::seed_personnel(&state.store, &people).await?;
                state
                    .load_lessons("demo", qoljetim::shipped_lessons())
                    .await
                    .map_err(|e| format!("loading the lessons: {e:?}"))?;
                let made = qoljetim::demo::seed_applications(&base, &people).await?;
                for (org, id, status) in &made {
                    println!("  application {id:>3} of {org:<22} {status}");
                }
                std::fs::write(demo_dir.join("seeded"), Timestamp::now().to_string())?;
            }
            qoljetim::start_worker(&cfg, state.clone())?;
            println!(
                "pages: {base}/sign-in — sign with NCALayer at {} (the development one: qoljetim dev-ncalayer --data-dir {} --person <IIN>)",
                cfg.pages.ncalayer_url,
                cfg.data_dir.display()
            );
            println!(
                "development CA: {}/ca.pem (trusted in this demo only)",
                cfg.dev_ca_dir().display()
            );
            println!(
                "people, certificates and keys: {}/people.json",
                demo_dir.display()
            );
            println!(
                "qoljetim demo listening on {base} — try {base}/healthz and {base}/api/v1/openapi.json"
            );
            tokio::signal::ctrl_c().await?;
        }
        Command::DevNcalayer {
            common,
            person,
            listen,
            cancel,
        } => {
            let cfg = config(&common, None)?;
            let fake = qoljetim::demo::dev_ncalayer(&cfg.data_dir.join("demo"), &person, cancel)?;
            let listener = tokio::net::TcpListener::bind(&listen).await?;
            println!(
                "development NCALayer for {person} on ws://{} (signing and authentication keys of the demo; not NCALayer)",
                listener.local_addr()?
            );
            qoljetim_devca::ncalayer::serve(listener, std::sync::Arc::new(fake)).await?;
        }
        Command::Lessons(LessonsCmd::Load { common, dir }) => {
            let cfg = config(&common, None)?;
            let files = qoljetim::lesson_files(&dir)?;
            if files.is_empty() {
                return Err(format!("{}: no lesson files (*.toml)", dir.display()).into());
            }
            let (state, _) = qoljetim::build_service(&cfg).await?;
            match state.load_lessons(&cli_user(), files).await {
                Ok(loaded) => {
                    for (id, version, what) in loaded {
                        println!("{what} {id} v{version}");
                    }
                }
                Err(e) => {
                    for f in &e.errors {
                        eprintln!("{}", f.detail);
                    }
                    eprintln!("nothing loaded: {}", e.slug());
                    return Ok(ExitCode::from(1));
                }
            }
        }
        Command::Lessons(LessonsCmd::Check { dir }) => {
            let files = qoljetim::lesson_files(&dir)?;
            let mut broken = 0;
            for f in &files {
                match qoljetim_domain::training::Lesson::parse(&f.name, &f.text) {
                    Ok(l) => println!(
                        "ok {}: {} v{} ({}), {} steps, {} questions, pass at {}%",
                        f.name,
                        l.id,
                        l.version,
                        l.system.as_str(),
                        l.steps.len(),
                        l.questions.len(),
                        l.pass_percent
                    ),
                    Err(e) => {
                        broken += 1;
                        eprintln!("{e}");
                    }
                }
            }
            if files.is_empty() {
                return Err(format!("{}: no lesson files (*.toml)", dir.display()).into());
            }
            if broken > 0 {
                return Ok(ExitCode::from(1));
            }
        }
        Command::DevToken {
            common,
            person,
            base,
        } => {
            let cfg = config(&common, None)?;
            let keys = qoljetim::demo::dev_ncalayer(&cfg.data_dir.join("demo"), &person, false)?;
            let auth = keys
                .authentication
                .ok_or_else(|| format!("the demo person {person} has no authentication key"))?;
            let mut client = qoljetim::client::ApiClient::new(&base);
            let (s, v) = client
                .login_patiently(&qoljetim::client::KeyPair {
                    cert: auth.cert,
                    key: auth.key,
                })
                .await?;
            if s != 200 {
                return Err(format!("sign-in of {person}: {s} {v}").into());
            }
            println!("{}", client.token.unwrap_or_default());
        }
        Command::DevEgovApp {
            common,
            person,
            key,
            scanned,
        } => {
            let cfg = config(&common, None)?;
            let keys = qoljetim::demo::dev_ncalayer(&cfg.data_dir.join("demo"), &person, false)?;
            let key = match key.as_str() {
                "authentication" => keys.authentication,
                "signing" => keys.signing,
                other => {
                    return Err(format!("--key is authentication or signing, not {other}").into());
                }
            }
            .ok_or_else(|| format!("the demo person {person} has no such key"))?;
            let app = qoljetim_devca::egov_app::FakeEgovApp {
                app: qoljetim_devca::egov_app::EgovApp::Business,
                key,
            };
            let answer = qoljetim::dev_egov::sign_scanned(&scanned, &app).await?;
            println!("{} {}", answer.status, answer.body);
            if answer.status != 200 {
                std::process::exit(1);
            }
        }
        Command::Jobs(JobsCmd::RunOnce { common, at }) => {
            let cfg = config(&common, None)?;
            let mut state = qoljetim::build_state(&cfg).await?;
            if let Some(at) = at {
                state.clock = qoljetim_domain::Clock::fixed(at);
            }
            // One worker per database (issue 21): not while an instance's worker holds the lease.
            let Some(_lease) = state.store.try_worker_lease().await? else {
                return Err(
                    "a running instance holds the worker lease: its worker runs these jobs \
                            (stop it, or wait for its next pass)"
                        .into(),
                );
            };
            let worker = qoljetim::worker::worker_for(&cfg, state)?;
            let summary = worker.run_once().await?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
        }
        Command::Jobs(JobsCmd::Outbox { common, status }) => {
            let cfg = config(&common, None)?;
            let store = Store::open(&cfg.database_url()).await?;
            for m in store.outbox(status.as_deref()).await? {
                println!(
                    "{:>6} {:<9} attempts {:>2} to {:<32} {}{}",
                    m.id,
                    m.status,
                    m.attempts,
                    m.to_address,
                    m.subject,
                    m.last_error.map(|e| format!(" — {e}")).unwrap_or_default()
                );
            }
        }
        Command::Jobs(JobsCmd::Resend { common, id }) => {
            let cfg = config(&common, None)?;
            let store = Store::open(&cfg.database_url()).await?;
            store
                .commit(
                    Change::Lifecycle(Box::new(qoljetim_store::LifecycleChange::OutboxResend {
                        id,
                        at: Timestamp::now().as_microsecond(),
                    })),
                    qoljetim::cli_audit(
                        "cli:operator",
                        "resend_email",
                        format!("outbox:{id}"),
                        json!({}),
                    ),
                )
                .await?;
            println!("e-mail {id} is queued again");
        }
        Command::Hr(HrCmd::ImportPersonnel { common, files }) => {
            let cfg = config(&common, None)?;
            let Some(posts) = parse_all(&files, qoljetim::hr::parse_personnel_csv)? else {
                return Ok(ExitCode::FAILURE);
            };
            let mut bins: Vec<String> = posts.iter().map(|p| p.bin.clone()).collect();
            bins.sort();
            bins.dedup();
            let store = Store::open(&cfg.database_url()).await?;
            let n = posts.len();
            store
                .commit(
                    Change::Lifecycle(Box::new(qoljetim_store::LifecycleChange::ImportPersonnel {
                        posts,
                        bins: bins.clone(),
                        at: Timestamp::now().as_microsecond(),
                    })),
                    qoljetim::cli_audit(
                        "cli:operator",
                        "import_personnel",
                        "hr_personnel".into(),
                        json!({"organizations": bins, "posts": n}),
                    ),
                )
                .await?;
            println!("{n} posts of {} organizations imported", bins.len());
        }
        Command::Hr(HrCmd::ImportOrders { common, files }) => {
            let cfg = config(&common, None)?;
            let Some(events) = parse_all(&files, qoljetim::hr::parse_orders_csv)? else {
                return Ok(ExitCode::FAILURE);
            };
            let (state, _) = qoljetim::build_service(&cfg).await?;
            for ev in events {
                let out = qoljetim::apply_hr_event(&state, &ev, "file", "cli:operator").await?;
                println!("{}", out);
            }
        }
        Command::Report(ReportCmd::Deadlines {
            common,
            from,
            to,
            format,
            out,
        }) => {
            let cfg = config(&common, None)?;
            let state = qoljetim::build_state(&cfg).await?;
            let now = Timestamp::now();
            let r = qoljetim_reports::deadline_report(
                &state.store,
                &state.calendar,
                from,
                to,
                now,
                state.config.support_first_answer_working_days,
                (
                    state.config.change_rules.agreement_working_days,
                    state.config.change_rules.approval_working_days,
                ),
            )
            .await?;
            let bytes = encode_report(&format, &r.title(), &r.subtitle(), &r.tables(), &r)?;
            std::fs::write(&out, bytes)?;
            println!("{} items written to {}", r.items.len(), out.display());
        }
        Command::Report(ReportCmd::Registry {
            common,
            on,
            format,
            out,
        }) => {
            let cfg = config(&common, None)?;
            let state = qoljetim::build_state(&cfg).await?;
            let now = Timestamp::now();
            let on = on.unwrap_or_else(|| state.calendar.almaty_date(now));
            let r = qoljetim_reports::access_registry(&state.store, on, now).await?;
            let bytes = encode_report(&format, &r.title(), &r.subtitle(), &r.tables(), &r)?;
            std::fs::write(&out, bytes)?;
            println!(
                "{} active and {} ended written to {}",
                r.active.len(),
                r.ended.len(),
                out.display()
            );
        }
        Command::Migrate { common } => {
            let cfg = config(&common, None)?;
            std::fs::create_dir_all(&cfg.data_dir)?;
            Store::migrate(&cfg.database_url()).await?;
            println!("migrations applied");
        }
        Command::Staff(StaffCmd::Add {
            common,
            org,
            iin,
            role,
        }) => {
            let cfg = config(&common, None)?;
            let bin = Bin::parse(&org).map_err(|e| format!("--org: {e}"))?;
            let iin = Iin::parse(&iin).map_err(|e| format!("--iin: {e}"))?;
            let role = Role::parse(&role)
                .filter(|r| {
                    matches!(
                        r,
                        Role::Reviewer | Role::IntegratorAdmin | Role::SupportAgent
                    )
                })
                .ok_or("--role must be reviewer, integrator_admin or support_agent")?;
            let store = open_store(&cfg).await?;
            let organization = store
                .organization(bin.as_str())
                .await?
                .ok_or_else(|| format!("organization {bin} is not registered"))?;
            let expected = if role == Role::Reviewer {
                OrganizationKind::AuthorizedBody
            } else {
                OrganizationKind::Integrator
            };
            if organization.kind.current() != Some(expected) {
                return Err(format!(
                    "a {} belongs to an organization of kind {}, {bin} is {}",
                    role.as_str(),
                    expected,
                    organization.kind
                )
                .into());
            }
            let change = Change::AddStaff {
                iin: iin.clone(),
                bin: bin.clone(),
                role,
                created_at: Timestamp::now().as_microsecond(),
            };
            store
                .commit(
                    change,
                    qoljetim::cli_audit(
                        &cli_user(),
                        "add_staff",
                        format!("staff/{iin}@{bin}"),
                        json!({"role": role.as_str()}),
                    ),
                )
                .await?;
            println!("{iin} is now {} of {bin}", role.as_str());
        }
        Command::Changes(ChangesCmd::Deployed {
            common,
            version,
            implements,
        }) => {
            let cfg = config(&common, None)?;
            let (state, _) = qoljetim::build_service(&cfg).await?;
            state
                .record_deployment(&cli_user(), &version, implements.clone())
                .await
                .map_err(refusal)?;
            println!("version {version} implements change requests {implements:?}");
        }
        Command::Recertification(RecertificationCmd::Open { common, bin }) => {
            let cfg = config(&common, None)?;
            let (state, _) = qoljetim::build_service(&cfg).await?;
            let c = state
                .open_campaign(
                    qoljetim_service::Operator::CommandLine(&cli_user()),
                    Ok(qoljetim_service::OpenCampaignBody {
                        organization_bin: bin,
                    }),
                )
                .await
                .map_err(refusal)?;
            println!(
                "campaign {} for {}: {} lines, answers due by the end of {}",
                c.id,
                c.organization_bin,
                c.lines.len(),
                c.due
            );
        }
        Command::Grants(GrantsCmd::Revoke { common, id, reason }) => {
            let cfg = config(&common, None)?;
            let (state, _) = qoljetim::build_service(&cfg).await?;
            let g = state
                .revoke_grant(
                    qoljetim_service::Operator::CommandLine(&cli_user()),
                    id,
                    Ok(qoljetim_service::ReasonBody { reason }),
                )
                .await
                .map_err(refusal)?;
            println!(
                "grant {} of {}@{} is {}",
                g.id, g.person_iin, g.organization_bin, g.status
            );
        }
        Command::Org(OrgCmd::Edit {
            common,
            bin,
            name_kk,
            name_ru,
            territory,
            administrators,
        }) => {
            let cfg = config(&common, None)?;
            let (state, _) = qoljetim::build_service(&cfg).await?;
            let body = qoljetim_service::OrganizationEditBody {
                name_kk,
                name_ru,
                territory,
                administrators,
            };
            let org = state
                .edit_organization(
                    qoljetim_service::Operator::CommandLine(&cli_user()),
                    &bin,
                    Ok(body),
                )
                .await
                .map_err(refusal)?;
            println!(
                "organization {} edited: {} / {}, territory {} (grants made before keep their scope)",
                org.bin,
                org.name_kk,
                org.name_ru,
                org.territory.as_deref().unwrap_or("—")
            );
        }
        Command::Org(OrgCmd::Deactivate {
            common,
            bin,
            reason,
        }) => {
            let cfg = config(&common, None)?;
            let (state, _) = qoljetim::build_service(&cfg).await?;
            let e = state
                .deactivate_organization(
                    qoljetim_service::Operator::CommandLine(&cli_user()),
                    &bin,
                    Ok(qoljetim_service::ReasonBody { reason }),
                )
                .await
                .map_err(refusal)?;
            println!(
                "organization {bin} deactivated: {} grants blocked, {} sessions ended",
                e.grants_blocked, e.sessions_ended
            );
        }
        Command::Staff(StaffCmd::Remove {
            common,
            org,
            iin,
            role,
        }) => {
            let cfg = config(&common, None)?;
            let (state, _) = qoljetim::build_service(&cfg).await?;
            let e = state
                .remove_staff(
                    qoljetim_service::Operator::CommandLine(&cli_user()),
                    &org,
                    &iin,
                    &role,
                )
                .await
                .map_err(refusal)?;
            println!(
                "{iin} is no longer {role} of {org}; {} sessions ended",
                e.sessions_ended
            );
        }
        Command::Org(OrgCmd::Add {
            common,
            bin,
            kind,
            name_kk,
            name_ru,
            territory,
            administrators,
        }) => {
            let cfg = config(&common, None)?;
            let (state, _) = qoljetim::build_service(&cfg).await?;
            let body = organization_body(bin, kind, name_kk, name_ru, territory, administrators);
            let org = state
                .register_organization_as_operator(&cli_user(), body)
                .await
                .map_err(|e| {
                    let fields = e
                        .errors
                        .iter()
                        .map(|f| format!("{}: {} ({})", f.field, f.detail, f.rule))
                        .collect::<Vec<_>>();
                    let args = e
                        .problem
                        .args()
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>();
                    let why = if e.kind() == qoljetim_service::ProblemKind::NotEligible {
                        " (the internal audit services of the National Bank and of the financial-market regulator are not state audit bodies under Order 270 §2.6)"
                    } else {
                        ""
                    };
                    format!(
                        "refused ({}): {}{why}",
                        e.slug(),
                        [fields, args].concat().join("; ")
                    )
                })?;
            println!("organization {} registered as {}", org.bin, org.kind);
        }
        Command::Grants(GrantsCmd::Rederive {
            common,
            kind,
            dry_run,
        }) => {
            let cfg = config(&common, None)?;
            let kind: qoljetim_domain::OrganizationKind = kind
                .parse()
                .map_err(|()| format!("--kind {kind} is not an applicant kind"))?;
            let rules = qoljetim::competence_rules(&cfg)?;
            let store = open_store(&cfg).await?;
            let changed =
                qoljetim::rederive_scopes(&store, &rules, kind, &cli_user(), dry_run).await?;
            for c in &changed {
                println!(
                    "grant {} ({} {} {}): {} → {}",
                    c.grant,
                    c.person_iin,
                    c.organization_bin,
                    c.system,
                    serde_json::to_string(&c.previous)?,
                    serde_json::to_string(&c.scope)?
                );
            }
            println!(
                "{} live grant(s) of {} {} under {}",
                changed.len(),
                kind,
                if dry_run {
                    "would change"
                } else {
                    "re-derived"
                },
                rules.source
            );
        }
        Command::DevCa(DevCaCmd::Init { common, key }) => {
            let cfg = config(&common, None)?;
            if cfg.production {
                return Err("production mode refuses the development CA".into());
            }
            qoljetim::devca_files::init_both(&cfg.dev_ca_dir(), key_kind(&key)?)?;
            println!(
                "development CAs in {} and {}",
                cfg.dev_ca_dir().display(),
                qoljetim::devca_files::gost_dir(&cfg.dev_ca_dir()).display()
            );
        }
        Command::DevCa(DevCaCmd::Issue {
            common,
            surname,
            name,
            patronymic,
            iin,
            bin,
            org_name,
            role,
            purpose,
            key,
            out,
            stem,
        }) => {
            let cfg = config(&common, None)?;
            if cfg.production {
                return Err("production mode refuses the development CA".into());
            }
            let kind = key_kind(&key)?;
            let ca = qoljetim::devca_files::load_for(&cfg.dev_ca_dir(), kind).map_err(|e| {
                format!(
                    "no development CA in {} ({e}); run qoljetim dev-ca init",
                    cfg.dev_ca_dir().display()
                )
            })?;
            Iin::parse(&iin).map_err(|e| format!("--iin: {e}"))?;
            if let Some(b) = &bin {
                Bin::parse(b).map_err(|e| format!("--bin: {e}"))?;
            }
            let role = match role.as_str() {
                "first_head" => NcaRole::FirstHead,
                "signing_right" => NcaRole::SigningRight,
                "financial_signing" => NcaRole::FinancialSigning,
                "hr" => NcaRole::Hr,
                "employee" => NcaRole::Employee,
                "information_system" => NcaRole::InformationSystem,
                other => return Err(format!("unknown --role {other}").into()),
            };
            let purpose = match purpose.as_str() {
                "sign" => KeyPurpose::Signing,
                "auth" => KeyPurpose::Authentication,
                other => return Err(format!("--purpose must be sign or auth, not {other}").into()),
            };
            let subject = Subject {
                surname,
                name,
                patronymic,
                iin,
                organization: bin.map(|b| (b, org_name)),
                role: Some(role),
                purpose,
            };
            let (_, _, path) =
                qoljetim::devca_files::issue_to_files(&ca, &subject, kind, &out, &stem)?;
            println!(
                "{} and {}",
                path.display(),
                out.join(format!("{stem}.key.pem")).display()
            );
        }
        Command::DevCa(DevCaCmd::Revoke { common, cert }) => {
            let cfg = config(&common, None)?;
            if cfg.production {
                return Err("production mode refuses the development CA".into());
            }
            let certificate = qoljetim::load_certificate(&cert)?;
            let crl =
                qoljetim::devca_files::revoke(&cfg.dev_ca_dir(), &certificate, Timestamp::now())?;
            println!(
                "revoked {}; CRL published at {}",
                hex::encode_upper(certificate.tbs_certificate().serial_number().as_bytes()),
                crl.display()
            );
        }
        Command::Audit(AuditCmd::Verify {
            common,
            checkpoints,
            public_key,
        }) => {
            let cfg = config(&common, None)?;
            return verify_audit(&cfg, &checkpoints, public_key.as_deref()).await;
        }
        Command::Audit(AuditCmd::Checkpoint { common }) => {
            let cfg = config(&common, None)?;
            let (state, _) = qoljetim::build_service(&cfg).await?;
            let mut c = cfg.clone();
            c.audit.checkpoint_minutes = c.audit.checkpoint_minutes.max(1);
            let writer =
                qoljetim::cluster::Checkpointer::from_config(&c)?.ok_or("checkpoints are off")?;
            match writer.write(&state).await? {
                Some(cp) => println!(
                    "checkpoint written: record {} hash {} at {}{}",
                    cp.seq,
                    cp.hash,
                    cp.at,
                    if cp.time_stamp.is_some() {
                        " (time-stamped)"
                    } else {
                        ""
                    }
                ),
                None => println!("the chain has not moved since the last checkpoint"),
            }
        }
        Command::Backup {
            common,
            to,
            files_only,
        } => {
            let cfg = config(&common, None)?;
            let m = qoljetim::backup::backup(&cfg, &to, files_only).await?;
            println!(
                "backup written to {}: {} files, {} bytes; audit chain at record {} ({})",
                to.display(),
                m.files.len(),
                m.files.iter().map(|f| f.bytes).sum::<u64>(),
                m.chain_seq,
                m.chain_hash
            );
        }
        Command::Restore { common, from } => {
            let cfg = config(&common, None)?;
            let m = qoljetim::backup::restore(&cfg, &from)?;
            println!(
                "restored {} files of the backup of {} into {}",
                m.files.len(),
                m.created_at,
                cfg.data_dir.display()
            );
            return verify_audit(&cfg, &[], None).await;
        }
        Command::ChallengeKey => {
            println!("{}", qoljetim_service::ChallengeKeys::new_key_text()?);
        }
        Command::DevTsa { common, listen } => {
            let cfg = config(&common, None)?;
            let ca = qoljetim::devca_files::load(&cfg.dev_ca_dir())?;
            let now = Timestamp::now();
            let (cert, key) = qoljetim_devca::issue_tsa(
                &ca,
                KeyKind::P256,
                now - jiff::SignedDuration::from_hours(1),
                now + jiff::SignedDuration::from_hours(24 * 3650),
            )?;
            let listener = tokio::net::TcpListener::bind(&listen).await?;
            println!(
                "development TSA at http://{} (trust it with [pki] trust_dev_ca)",
                listener.local_addr()?
            );
            qoljetim::cluster::serve_dev_tsa(listener, cert, key).await?;
        }
        Command::Import(ImportCmd::Budget { common, files }) => {
            let cfg = config(&common, None)?;
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_message("checking rows");
            let paths: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
            let loaded =
                qoljetim_budget::import::import(&qoljetim::budget_dir(&cfg), &paths, &|n| {
                    bar.set_position(n);
                    bar.tick();
                });
            bar.finish_and_clear();
            match loaded {
                Ok(loaded) => {
                    for l in loaded {
                        println!(
                            "{} {} version {}: {} rows (replaces an earlier load of the same key)",
                            l.dataset, l.fiscal_year, l.version, l.rows
                        );
                    }
                }
                Err(e) => {
                    eprintln!("qoljetim: nothing was loaded: {e}");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        Command::Generate(GenerateCmd::Budget {
            common,
            rows,
            seed,
            years,
        }) => {
            let cfg = config(&common, None)?;
            let started = std::time::Instant::now();
            let out = qoljetim_budget::generate::generate(
                &qoljetim::budget_dir(&cfg),
                rows,
                seed,
                &years,
            )?;
            for (name, n) in out.rows {
                println!("{name}: {n} rows");
            }
            println!(
                "{} budgets; written in {:.1} s to {}",
                out.budgets,
                started.elapsed().as_secs_f64(),
                qoljetim::budget_dir(&cfg).display()
            );
        }
        Command::Bench(BenchCmd::Signatures { seconds }) => {
            println!("signature verifications, one core, {seconds} s each:");
            for (label, rate) in qoljetim::bench::signatures(seconds)? {
                println!("  {rate:>9.0}/s  {label}");
            }
        }
        Command::Bench(BenchCmd::Data {
            rows,
            data_dir,
            iterations,
        }) => {
            qoljetim::bench::data(rows, &data_dir, iterations).await?;
        }
        Command::Bench(BenchCmd::DataPeer { rows, data_dir }) => {
            qoljetim::bench::data_peer(rows, &data_dir).await?;
        }
        Command::Bench(BenchCmd::Pages {
            iterations,
            applications,
            lines,
            rows,
            postgres_url,
        }) => {
            let pg = postgres_url.or_else(|| std::env::var("QOLJETIM_TEST_POSTGRES_URL").ok());
            qoljetim::bench::pages(iterations, applications, lines, rows, pg).await?;
        }
        Command::Bench(BenchCmd::Reads {
            connections,
            seconds,
            postgres_url,
        }) => {
            let pg = postgres_url.or_else(|| std::env::var("QOLJETIM_TEST_POSTGRES_URL").ok());
            qoljetim::bench::reads(&connections, seconds, pg).await?;
        }
        Command::Bench(BenchCmd::Workflow {
            keys,
            clients,
            logins,
            applications,
            postgres_url,
        }) => {
            let pg = postgres_url.or_else(|| std::env::var("QOLJETIM_TEST_POSTGRES_URL").ok());
            let keys = keys
                .iter()
                .map(|k| key_kind(k))
                .collect::<Result<Vec<_>, _>>()?;
            qoljetim::bench::workflow(&keys, clients, logins, applications, pg).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn organization_body(
    bin: String,
    kind: String,
    name_kk: String,
    name_ru: String,
    territory: Option<String>,
    administrators: Vec<String>,
) -> qoljetim_service::OrganizationBody {
    qoljetim_service::OrganizationBody {
        bin,
        name_kk,
        name_ru,
        kind,
        territory,
        administrators,
    }
}

/// A report as CSV, PDF or (anything else) pretty JSON.
fn encode_report(
    format: &str,
    title: &str,
    subtitle: &str,
    tables: &[qoljetim_reports::Table],
    json: &impl serde::Serialize,
) -> Result<Vec<u8>, AnyError> {
    Ok(
        match qoljetim_reports::encode(format, title, subtitle, tables)? {
            Some((bytes, _, _)) => bytes,
            None => serde_json::to_vec_pretty(json)?,
        },
    )
}

/// A CSV parser of the `hr` module: rows, or every error as `file:line: column …`.
type CsvParser<T> = fn(&str, &str) -> Result<Vec<T>, Vec<String>>;

/// Parses every file, all or nothing: on any error, prints each (file:line: column: rule) and None.
fn parse_all<T>(files: &[PathBuf], parse: CsvParser<T>) -> Result<Option<Vec<T>>, AnyError> {
    let mut out = vec![];
    let mut errors = vec![];
    for f in files {
        let text = std::fs::read_to_string(f)?;
        match parse(&f.display().to_string(), &text) {
            Ok(p) => out.extend(p),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        return Ok(Some(out));
    }
    for e in &errors {
        eprintln!("{e}");
    }
    eprintln!("qoljetim: nothing was imported ({} errors)", errors.len());
    Ok(None)
}

/// Logs: JSON lines (one object per event, with the request's id from its span) when the output is
/// not a terminal — a service manager, a container, a file —, readable text with colours on a
/// terminal; `QOLJETIM_LOG_FORMAT=json|text` chooses.
fn init_log(filter: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_default();
    let terminal = std::io::stdout().is_terminal();
    let json = match std::env::var("QOLJETIM_LOG_FORMAT").as_deref() {
        Ok("json") => true,
        Ok("text") => false,
        _ => !terminal,
    };
    let _ = if json {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(terminal)
            .try_init()
    };
}

/// SIGTERM (a service manager, `kill`) or SIGINT (Ctrl-C).
async fn stop_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("qoljetim: {e}");
            ExitCode::from(2)
        }
    }
}
