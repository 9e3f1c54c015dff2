//! Where the onboarding service keeps accounts and orders: an embedded SQLite database (a
//! restart loses nothing), or memory for tests. Rows hold the records as JSON; the institution
//! code is UNIQUE, so the database itself refuses a second account for an institution.

use kazasu_onboarding::service::{Account, Order};
use rusqlite::{Connection, params};
use std::path::{Path, PathBuf};

/// What went wrong with the database, and with which file or record.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file cannot be opened or locked.
    #[error("cannot open the database {}: {source}", path.display())]
    File {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Another server holds the file.
    #[error(
        "the database {} is in use by another onboarding server (the same file, maybe under \
         another name); stop it, or give this one its own --db",
        path.display()
    )]
    InUse {
        /// The database file.
        path: PathBuf,
    },
    /// SQLite refused.
    #[error("{doing}: {source}")]
    Sqlite {
        /// What the store was doing: `cannot save order O-1`.
        doing: String,
        /// SQLite's reason.
        source: rusqlite::Error,
    },
    /// A saved record does not read back.
    #[error("a damaged row: {0}")]
    Damaged(serde_json::Error),
    /// An update of an account the database does not hold.
    #[error(
        "cannot save account {id}: the database holds no such account of institution {institution}"
    )]
    NoSuchAccount {
        /// The account.
        id: String,
        /// Its institution code.
        institution: String,
    },
}

/// `Err(e)` of SQLite as [`StoreError::Sqlite`], saying what the store was doing.
fn doing(doing: impl FnOnce() -> String) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Sqlite {
        doing: doing(),
        source,
    }
}

/// A record as the JSON the rows hold (records are plain data: this cannot fail).
fn record<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("a record serialises")
}

/// The store.
pub struct Store {
    /// The background checkpointer of a database file (none in memory); stopped first, so
    /// the store's own connection is the last one and leaves the file whole when it closes.
    _checkpoints: Option<Checkpointer>,
    db: Connection,
    /// An exclusive lock (flock) on the database file itself, held while the store is open:
    /// one server per database — per file on disk (device and inode), so a symbolic or hard
    /// link to the same file cannot start a second writer, and two different files never
    /// conflict. (SQLite's own locks are POSIX record locks, independent of this one.)
    _lock: Option<std::fs::File>,
}

/// Moves the write-ahead log into the database file in the background, every
/// [`CHECKPOINT_EVERY`], on a connection of its own, so that no request waits for it: a
/// checkpoint syncs the file to disk, which under load cost more than the registrations
/// themselves when SQLite ran it inside a commit. A passive checkpoint never blocks a writer;
/// the log it leaves is read like the file (nothing is lost on a crash: the log is on disk
/// before a commit returns).
struct Checkpointer {
    /// Dropped to stop the thread.
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How often the checkpointer runs.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

impl Checkpointer {
    fn start(path: &Path) -> Result<Checkpointer, rusqlite::Error> {
        let db = Connection::open(path)?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("kazasu-checkpoints".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_EVERY)
                {
                    // A failed checkpoint (the disk full, for one) leaves the log as it is:
                    // the next one tries again, and commits keep working.
                    let _ = db.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            })
            .expect("a thread starts");
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Store {
    /// A database file (created when missing).
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let file = |source| StoreError::File {
            path: path.to_path_buf(),
            source,
        };
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(file)?;
        if let Err(e) = lock.try_lock() {
            return Err(match e {
                std::fs::TryLockError::WouldBlock => StoreError::InUse {
                    path: path.to_path_buf(),
                },
                std::fs::TryLockError::Error(e) => file(e),
            });
        }
        let opening = || format!("cannot open the database {}", path.display());
        let db = Connection::open(path).map_err(doing(opening))?;
        // WAL: a crash loses at most the write in progress, and readers never wait.
        db.pragma_update(None, "journal_mode", "WAL")
            .and_then(|_| db.pragma_update(None, "synchronous", "NORMAL"))
            // Checkpoints run in the background (Checkpointer), not inside a commit.
            .and_then(|_| db.pragma_update(None, "wal_autocheckpoint", 0))
            .map_err(doing(opening))?;
        let mut store = Store::init(db)?;
        store._lock = Some(lock);
        store._checkpoints = Some(Checkpointer::start(path).map_err(doing(opening))?);
        Ok(store)
    }

    /// A store in memory (gone with the process).
    pub fn memory() -> Store {
        Store::init(Connection::open_in_memory().expect("SQLite opens in memory"))
            .expect("the schema applies")
    }

    fn init(db: Connection) -> Result<Store, StoreError> {
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS accounts (
                 id TEXT PRIMARY KEY,
                 institution_code TEXT NOT NULL UNIQUE,
                 record TEXT NOT NULL) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS orders (
                 id TEXT PRIMARY KEY,
                 account_id TEXT NOT NULL REFERENCES accounts(id),
                 record TEXT NOT NULL);",
        )
        .map_err(doing(|| "cannot create the tables".into()))?;
        Ok(Store {
            _checkpoints: None,
            db,
            _lock: None,
        })
    }

    /// Everything saved, in id order.
    pub fn load(&self) -> Result<(Vec<Account>, Vec<Order>), StoreError> {
        fn all<T: serde::de::DeserializeOwned>(
            db: &Connection,
            sql: &str,
        ) -> Result<Vec<T>, StoreError> {
            let reading = || "cannot read the database".to_string();
            let mut st = db.prepare(sql).map_err(doing(reading))?;
            let rows = st
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(doing(reading))?;
            let mut out = Vec::new();
            for row in rows {
                let text = row.map_err(doing(reading))?;
                out.push(serde_json::from_str(&text).map_err(StoreError::Damaged)?);
            }
            Ok(out)
        }
        Ok((
            all(&self.db, "SELECT record FROM accounts ORDER BY id")?,
            all(&self.db, "SELECT record FROM orders ORDER BY id")?,
        ))
    }

    /// Saves a new account. An id or institution already in the database is an error: a new
    /// account never replaces one that was acknowledged.
    pub fn insert_account(&self, a: &Account) -> Result<(), StoreError> {
        // Prepared once per connection (rusqlite's statement cache): a busy service saves an
        // account per registration.
        self.db
            .prepare_cached(
                "INSERT INTO accounts (id, institution_code, record) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut st| st.execute(params![a.id, a.institution_code, record(a)]))
            .map(|_| ())
            .map_err(doing(|| format!("cannot save the new account {}", a.id)))
    }

    /// Saves a change to an account already saved (the same id and institution).
    pub fn update_account(&self, a: &Account) -> Result<(), StoreError> {
        let changed = self
            .db
            .execute(
                "UPDATE accounts SET record = ?3 WHERE id = ?1 AND institution_code = ?2",
                params![a.id, a.institution_code, record(a)],
            )
            .map_err(doing(|| format!("cannot save account {}", a.id)))?;
        if changed == 1 {
            Ok(())
        } else {
            Err(StoreError::NoSuchAccount {
                id: a.id.clone(),
                institution: a.institution_code.clone(),
            })
        }
    }

    /// Deletes everything (a test service's reset).
    pub fn clear(&self) -> Result<(), StoreError> {
        self.db
            .execute_batch("DELETE FROM orders; DELETE FROM accounts;")
            .map_err(doing(|| "cannot clear the database".into()))
    }

    /// Saves an order.
    pub fn save_order(&self, o: &Order) -> Result<(), StoreError> {
        self.db
            .execute(
                "INSERT INTO orders (id, account_id, record) VALUES (?1, ?2, ?3)",
                params![o.id, o.account_id, record(o)],
            )
            .map(|_| ())
            .map_err(doing(|| format!("cannot save order {}", o.id)))
    }
}

#[cfg(test)]
mod lock_tests {
    use super::{Store, StoreError};
    use kazasu_onboarding::program::BusinessType;
    use kazasu_onboarding::program::Day;
    use kazasu_onboarding::service::{Account, AccountStatus};

    fn account(id: &str, code: &str) -> Account {
        Account {
            id: id.into(),
            institution_code: code.into(),
            name: "テスト医院".into(),
            business_type: BusinessType::Corporation,
            status: AccountStatus::Active,
            website: None,
            opened: Day::parse("2025-10-01").unwrap(),
        }
    }

    /// Commits never wait for a checkpoint, yet the log reaches the database file: the
    /// background checkpointer moves it there while the store is open (SQLite's automatic
    /// checkpoint, which ran inside a commit and synced the disk, is off), and everything saved
    /// reads back after a reopen.
    #[test]
    fn the_log_reaches_the_file_in_the_background() {
        let dir = std::env::temp_dir().join(format!("kazasu-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("accounts.sqlite");
        let _ = std::fs::remove_file(&path);
        let store = Store::open(&path).unwrap();
        let auto: i64 = store
            .db
            .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
            .unwrap();
        assert_eq!(auto, 0, "no checkpoint inside a commit");
        for i in 0..300 {
            store
                .insert_account(&account(&format!("A{i:06}"), &format!("13{i:08}")))
                .unwrap();
        }
        let file_len = || std::fs::metadata(&path).unwrap().len();
        let started = std::time::Instant::now();
        while file_len() < 32 * 1024 && started.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(
            file_len() >= 32 * 1024,
            "the database file is {} bytes after the checkpointer's time: the log stayed in \
             the log",
            file_len()
        );
        drop(store);
        let (accounts, _) = Store::open(&path).unwrap().load().unwrap();
        assert_eq!(accounts.len(), 300);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Two writers handing out the same id once lost the first account (the second replaced
    /// it); now the second insert fails and the first stays.
    #[test]
    fn a_new_account_never_replaces_a_saved_one() {
        let store = Store::memory();
        store
            .insert_account(&account("A000001", "1311111111"))
            .unwrap();
        let e = store
            .insert_account(&account("A000001", "1322222222"))
            .unwrap_err();
        assert!(
            matches!(&e, StoreError::Sqlite { doing, .. } if doing.contains("A000001")),
            "{e}"
        );
        let (accounts, _) = store.load().unwrap();
        assert_eq!(accounts, [account("A000001", "1311111111")]);
        // A change of the saved account goes through; one of another institution does not.
        let mut changed = account("A000001", "1311111111");
        changed.website = Some("https://clinic.example.jp".into());
        store.update_account(&changed).unwrap();
        assert!(
            store
                .update_account(&account("A000001", "1322222222"))
                .is_err()
        );
        assert_eq!(store.load().unwrap().0, [changed]);
    }

    #[test]
    fn a_second_server_on_one_database_is_refused() {
        let dir = std::env::temp_dir().join(format!("kazasu-store-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("onboarding.db");
        let first = Store::open(&db).unwrap();
        let second = Store::open(&db).err().expect("the database is taken");
        assert!(
            matches!(second, StoreError::InUse { .. })
                && second
                    .to_string()
                    .contains("in use by another onboarding server"),
            "{second}"
        );
        drop(first);
        // Another test of this process may be spawning a program right now: its child holds a
        // copy of the lock's file descriptor from fork until exec, so give it a moment.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        let again = loop {
            match Store::open(&db) {
                Err(StoreError::InUse { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => break other,
            }
        };
        assert!(again.is_ok(), "free again once the first server stops");
    }
}
