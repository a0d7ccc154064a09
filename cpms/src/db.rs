//! Opening the database and bringing its schema up to date.

use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

/// Connects to `url` (`sqlite://...` or `postgres://...`) and applies pending migrations. A SQLite
/// file is created on first start.
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let url = sqlite_create_if_missing(url);
    let mut options = ConnectOptions::new(url.clone());
    options
        .max_connections(max_connections)
        .connect_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    if url.starts_with("sqlite:") {
        // SQLite has one writer. Several pooled connections would only fight over its lock, and a
        // read-then-write transaction would fail with SQLITE_BUSY_SNAPSHOT when another connection
        // wrote in between; an in-memory database would even be a different one per connection.
        // One connection serialises all access, which is what SQLite does anyway.
        options.max_connections(1);
    }
    let db = Database::connect(options).await?;
    if url.starts_with("sqlite:") {
        // WAL lets readers run beside the writer; busy_timeout waits instead of failing at once.
        use sea_orm::ConnectionTrait;
        db.execute_unprepared(
            "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON;",
        )
        .await?;
    }
    Migrator::up(&db, None).await?;
    Ok(db)
}

/// sqlx opens SQLite files read-write but does not create them unless `mode=rwc` is given.
fn sqlite_create_if_missing(url: &str) -> String {
    if url.starts_with("sqlite:") && !url.contains("mode=") && !url.contains(":memory:") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}mode=rwc")
    } else {
        url.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_files_are_created() {
        assert_eq!(
            sqlite_create_if_missing("sqlite://cpms.db"),
            "sqlite://cpms.db?mode=rwc"
        );
        assert_eq!(
            sqlite_create_if_missing("sqlite://x.db?mode=ro"),
            "sqlite://x.db?mode=ro"
        );
        assert_eq!(
            sqlite_create_if_missing("postgres://h/db"),
            "postgres://h/db"
        );
    }
}
