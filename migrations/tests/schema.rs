//! Runs the CPMS migrations up, down and up again on a real database and
//! writes a row into every table, so a schema that only one backend accepts
//! fails here rather than at a deployment's first start.
//!
//! SQLite (in memory) always runs. PostgreSQL runs when
//! `CPMS_TEST_DATABASE_URL` names a server, e.g.
//! `postgres://postgres@127.0.0.1:5432/test`: the test creates a database of
//! its own there and drops it afterwards. A URL that is set but unreachable
//! fails the test, because a silently skipped backend is no check at all.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use migrations::{Migrator, MigratorTrait, SchemaManager};
use sea_orm::sea_query::{Alias, Asterisk, Expr, InsertStatement, Query, SimpleExpr};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, QueryResult, StatementBuilder,
};

/// Every table the migrations create.
const TABLES: [&str; 12] = [
    "station",
    "connector",
    "transaction",
    "meter_sample",
    "id_token",
    "setting",
    // m20261124_000002_ocpp201
    "transaction_event",
    "device_variable",
    "station_event",
    // m20261124_000004_local_lists_reservations (000003 adds a column only)
    "local_list",
    "local_list_entry",
    "reservation",
];

/// Environment variable naming a PostgreSQL server to test against.
const DATABASE_URL_VAR: &str = "CPMS_TEST_DATABASE_URL";

#[tokio::test]
async fn schema_round_trips_on_sqlite() {
    let db = Database::connect("sqlite::memory:")
        .await
        .expect("open in-memory SQLite");
    exercise_schema(&db).await;
}

#[tokio::test]
async fn schema_round_trips_on_postgres() {
    let Ok(admin_url) = std::env::var(DATABASE_URL_VAR) else {
        eprintln!("{DATABASE_URL_VAR} not set: PostgreSQL schema test not run");
        return;
    };
    // Fail within seconds rather than after the pool's default 30 s wait.
    let mut options = ConnectOptions::new(admin_url.clone());
    options
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5));
    let admin = Database::connect(options)
        .await
        .unwrap_or_else(|e| panic!("{DATABASE_URL_VAR}={admin_url} is unreachable: {e}"));

    let name = format!(
        "cpms_mig_{:016x}",
        RandomState::new().build_hasher().finish()
    );
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("create scratch database");

    // Run in its own task so that a failed assertion still reaches the
    // DROP DATABASE below instead of leaving the scratch database behind.
    let url = with_database(&admin_url, &name);
    let outcome = tokio::spawn(async move {
        let db = Database::connect(&url)
            .await
            .expect("connect to scratch database");
        exercise_schema(&db).await;
        db.close().await.expect("close scratch database");
    })
    .await;

    // FORCE (PostgreSQL 13+) ends connections a panicking task left open.
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
        .expect("drop scratch database");

    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Applies the migrations, writes through every table, rolls everything back
/// and applies them again, asserting what the core relies on at each step.
async fn exercise_schema(db: &DatabaseConnection) {
    Migrator::up(db, None).await.expect("migrate up");
    // The binary migrates at every start-up, so a second run must be a no-op.
    Migrator::up(db, None)
        .await
        .expect("migrate up when already current");
    for table in TABLES {
        assert!(has_table(db, table).await, "table {table} missing after up");
    }

    write_every_table(db).await;
    assert_station_delete_cascades(db).await;

    Migrator::down(db, None).await.expect("migrate down");
    for table in TABLES {
        assert!(!has_table(db, table).await, "table {table} left after down");
    }

    Migrator::up(db, None).await.expect("migrate up after down");
    write_every_table(db).await;
}

/// Inserts one row into each table (two transactions, to see the id count
/// up) and checks the database-generated ids.
async fn write_every_table(db: &DatabaseConnection) {
    let now = at(10, 0);

    execute(
        db,
        Query::insert()
            .into_table(Alias::new("station"))
            .columns(cols(&[
                "id",
                "vendor",
                "model",
                "protocol",
                "registration_status",
                "last_seen",
                "created_at",
                "updated_at",
            ]))
            .values_panic([
                "CP-1".into(),
                "Acme".into(),
                "Wallbox 22".into(),
                "ocpp1.6".into(),
                "Accepted".into(),
                now.into(),
                now.into(),
                now.into(),
            ]),
    )
    .await;

    execute(
        db,
        Query::insert()
            .into_table(Alias::new("connector"))
            .columns(cols(&[
                "station_id",
                "evse_id",
                "connector_id",
                "status",
                "source_status",
                "error_code",
                "status_at",
                "updated_at",
            ]))
            .values_panic([
                "CP-1".into(),
                1.into(),
                1.into(),
                "Available".into(),
                "Available".into(),
                "NoError".into(),
                now.into(),
                now.into(),
            ]),
    )
    .await;

    let first = insert_transaction(db, at(10, 5))
        .await
        .expect("first start");
    let second = insert_transaction(db, at(10, 6))
        .await
        .expect("second start");
    let first_id: i32 = first.try_get("", "id").expect("transaction id is an i32");
    let second_id: i32 = second.try_get("", "id").expect("transaction id is an i32");
    assert_eq!(
        (first_id, second_id),
        (1, 2),
        "transaction ids are generated"
    );
    assert!(
        insert_transaction(db, at(10, 5)).await.is_err(),
        "ux_transaction_start accepted a second start at the same instant"
    );

    // Signed meter data (OCMF) is kilobytes long: the column must be TEXT.
    let signed_value = "x".repeat(10_000);
    let sample = query_one(
        db,
        Query::insert()
            .into_table(Alias::new("meter_sample"))
            .columns(cols(&[
                "station_id",
                "evse_id",
                "connector_id",
                "transaction_id",
                "timestamp",
                "measurand",
                "unit",
                "value",
                "format",
            ]))
            .values_panic([
                "CP-1".into(),
                1.into(),
                1.into(),
                first_id.into(),
                at(10, 7).into(),
                "Energy.Active.Import.Register".into(),
                "Wh".into(),
                signed_value.into(),
                "SignedData".into(),
            ])
            .returning_col(Alias::new("id")),
    )
    .await
    .expect("insert meter sample");
    let sample_id: i64 = sample.try_get("", "id").expect("meter sample id is an i64");
    assert_eq!(sample_id, 1, "meter sample id is generated");

    execute(
        db,
        Query::insert()
            .into_table(Alias::new("id_token"))
            .columns(cols(&[
                "id_token",
                "status",
                "expiry_date",
                "created_at",
                "updated_at",
            ]))
            .values_panic([
                "04A1B2C3".into(),
                "Accepted".into(),
                at(23, 59).into(),
                now.into(),
                now.into(),
            ]),
    )
    .await;

    execute(
        db,
        Query::insert()
            .into_table(Alias::new("setting"))
            .columns(cols(&["key", "value"]))
            .values_panic(["jwt_secret".into(), "c2VjcmV0".into()]),
    )
    .await;
}

/// Deleting a station must take its connectors, transactions and meter
/// samples with it (ON DELETE CASCADE on every foreign key to `station`).
async fn assert_station_delete_cascades(db: &DatabaseConnection) {
    for table in ["connector", "transaction", "meter_sample"] {
        assert!(count(db, table).await > 0, "{table} is empty before delete");
    }
    execute(
        db,
        Query::delete()
            .from_table(Alias::new("station"))
            .and_where(Expr::col(Alias::new("id")).eq("CP-1")),
    )
    .await;
    for table in ["connector", "transaction", "meter_sample"] {
        assert_eq!(
            count(db, table).await,
            0,
            "{table} rows outlived their station"
        );
    }
}

/// Starts a transaction on CP-1 EVSE 1 at `started_at`, returning the row
/// (with its generated id) or the database's refusal.
async fn insert_transaction(
    db: &DatabaseConnection,
    started_at: DateTime<Utc>,
) -> Result<QueryResult, sea_orm::DbErr> {
    let stmt = Query::insert()
        .into_table(Alias::new("transaction"))
        .columns(cols(&[
            "station_id",
            "evse_id",
            "connector_id",
            "id_token",
            "authorization_status",
            "state",
            "started_at",
            "meter_start_wh",
            "reservation_id",
            "created_at",
            "updated_at",
        ]))
        .values_panic([
            "CP-1".into(),
            1.into(),
            1.into(),
            "04A1B2C3".into(),
            "Accepted".into(),
            "Active".into(),
            started_at.into(),
            "1234.5".into(),
            SimpleExpr::from(Option::<i32>::None),
            started_at.into(),
            started_at.into(),
        ])
        .returning_col(Alias::new("id"))
        .to_owned();
    db.query_one(db.get_database_backend().build(&stmt))
        .await
        .map(|row| row.expect("RETURNING yields a row"))
}

/// A fixed instant on the day of the migration, so reruns are reproducible.
fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, hour, minute, 0).unwrap()
}

fn cols(names: &[&str]) -> Vec<Alias> {
    names.iter().map(|n| Alias::new(*n)).collect()
}

async fn execute<S: StatementBuilder>(db: &DatabaseConnection, stmt: &mut S) {
    let stmt = db.get_database_backend().build(&*stmt);
    let sql = stmt.sql.clone();
    db.execute(stmt)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn query_one(
    db: &DatabaseConnection,
    stmt: &mut InsertStatement,
) -> Result<QueryResult, sea_orm::DbErr> {
    db.query_one(db.get_database_backend().build(&*stmt))
        .await
        .map(|row| row.expect("RETURNING yields a row"))
}

async fn count(db: &DatabaseConnection, table: &str) -> i64 {
    let stmt = Query::select()
        .expr(Expr::col(Asterisk).count())
        .from(Alias::new(table))
        .to_owned();
    db.query_one(db.get_database_backend().build(&stmt))
        .await
        .expect("count rows")
        .expect("COUNT yields a row")
        .try_get_by_index(0)
        .expect("COUNT is an integer")
}

async fn has_table(db: &DatabaseConnection, table: &str) -> bool {
    SchemaManager::new(db)
        .has_table(table)
        .await
        .expect("inspect schema")
}

/// Replaces the database name in a `postgres://` URL, keeping any query
/// string (sslmode and the like).
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{database}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}
