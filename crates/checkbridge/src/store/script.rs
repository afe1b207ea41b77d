//! A write of several statements that travels to SQLite as one.
//!
//! Every statement sqlx runs on SQLite is a round trip to the connection's own thread and
//! back (about 60 µs on this kind of machine when idle, more when the runtime is busy), and
//! the single writer holds SQLite's write lock for all of a write's trips: a write of three
//! statements in a savepoint cost five trips. A [`Script`] is sent as one string, savepoint
//! and release included, so the lock is held for one trip. The statements share one list of
//! arguments: `$N` is the script's N-th argument in every statement, so a later statement
//! can name the values of an earlier one.
//!
//! A later statement that must only act if an earlier one did says so in SQL (`WHERE EXISTS
//! (…)` on the row the earlier one wrote), because nothing runs between the statements. On
//! PostgreSQL (and SQLite in memory) the statements run one after another in a transaction,
//! each given its own arguments, with the same meaning.

use sqlx::any::AnyRow;
use sqlx::Acquire as _;

use super::{Store, StoreError};

/// One argument of a script.
#[derive(Clone)]
pub(super) enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
}

/// Candidate data passes through scripts (sealed, but still): never printed.
impl std::fmt::Debug for Arg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Arg::Text(_) => "Text(..)",
            Arg::Int(_) => "Int(..)",
        })
    }
}

impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::Text(Some(v.to_owned()))
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::Text(Some(v))
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Arg {
        Arg::Text(v.map(str::to_owned))
    }
}
impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Arg {
        Arg::Int(v)
    }
}

/// Statements that run as one write, all or none.
#[derive(Debug, Default)]
pub(super) struct Script {
    statements: Vec<String>,
    args: Vec<Arg>,
    /// Waits for SQLite's writer behind a few ordinary writes at most (a page of claims,
    /// which PageUp's next page waits for).
    urgent: bool,
}

impl Script {
    pub(super) fn new() -> Script {
        Script::default()
    }

    /// Adds an argument; returns its placeholder (`$N`).
    pub(super) fn arg(&mut self, v: impl Into<Arg>) -> String {
        self.args.push(v.into());
        format!("${}", self.args.len())
    }

    /// Adds arguments in order, for statements written with their placeholders.
    pub(super) fn bind(mut self, v: impl Into<Arg>) -> Script {
        self.args.push(v.into());
        self
    }

    /// Adds a statement (no trailing semicolon, no `;` inside).
    pub(super) fn push(&mut self, sql: impl Into<String>) {
        self.statements.push(sql.into());
    }

    /// Marks the script urgent: it waits for the writer behind a few ordinary writes at most.
    pub(super) fn urgent(mut self) -> Script {
        self.urgent = true;
        self
    }

    pub(super) fn then(mut self, sql: impl Into<String>) -> Script {
        self.push(sql);
        self
    }

    /// The statements as one string for SQLite, in a savepoint when there are several.
    fn joined(&self) -> String {
        match self.statements.as_slice() {
            [one] => one.clone(),
            many => format!(
                "SAVEPOINT cb_write; {}; RELEASE SAVEPOINT cb_write",
                many.join("; ")
            ),
        }
    }
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    args: impl IntoIterator<Item = Arg>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for a in args {
        q = match a {
            Arg::Text(v) => q.bind(v),
            Arg::Int(v) => q.bind(v),
        };
    }
    q
}

/// `sql` with its `$N` renumbered `$1`, `$2`, … in order of first use, and the script
/// arguments they stand for.
fn localise(sql: &str, args: &[Arg]) -> (String, Vec<Arg>) {
    let mut out = String::with_capacity(sql.len());
    let mut used: Vec<usize> = Vec::new();
    let mut chars = sql.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let start = i + 1;
        let mut end = start;
        while let Some(&(j, d)) = chars.peek() {
            if d.is_ascii_digit() {
                end = j + 1;
                chars.next();
            } else {
                break;
            }
        }
        match sql[start..end].parse::<usize>() {
            Ok(n) => {
                let local = match used.iter().position(|&u| u == n) {
                    Some(p) => p + 1,
                    None => {
                        used.push(n);
                        used.len()
                    }
                };
                out.push('$');
                out.push_str(&local.to_string());
            }
            Err(_) => out.push('$'),
        }
    }
    let local_args = used
        .iter()
        .map(|&n| {
            args.get(n.wrapping_sub(1))
                .cloned()
                .unwrap_or(Arg::Text(None))
        })
        .collect();
    (out, local_args)
}

impl Store {
    /// Runs `script` as one durable write; returns the rows its statements return, in order.
    pub(super) async fn run_script(&self, script: Script) -> Result<Vec<AnyRow>, StoreError> {
        match &self.group {
            Some(g) => {
                let sql = script.joined();
                let mut w = g
                    .begin_script(script.statements.len() > 1, script.urgent)
                    .await?;
                let rows = bind_all(sqlx::query(&sql), script.args)
                    .fetch_all(w.conn())
                    .await?;
                w.commit_sent().await?;
                Ok(rows)
            }
            None => {
                let mut conn = self.pool.acquire().await?;
                let mut tx = conn.begin().await?;
                let mut rows = Vec::new();
                for stmt in &script.statements {
                    let (sql, args) = localise(stmt, &script.args);
                    rows.extend(
                        bind_all(sqlx::query(&sql), args)
                            .fetch_all(&mut *tx)
                            .await?,
                    );
                }
                tx.commit().await?;
                Ok(rows)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_renumbered_per_statement_in_order_of_use() {
        let args: Vec<Arg> = (1..=12).map(|i| Arg::from(i64::from(i))).collect();
        let (sql, used) = localise("SELECT $12, $3 WHERE a = $12 AND b = $10", &args);
        assert_eq!(sql, "SELECT $1, $2 WHERE a = $1 AND b = $3");
        let ints: Vec<Option<i64>> = used
            .iter()
            .map(|a| match a {
                Arg::Int(v) => *v,
                Arg::Text(_) => None,
            })
            .collect();
        assert_eq!(ints, vec![Some(12), Some(3), Some(10)]);
    }

    #[test]
    fn a_lone_dollar_is_kept() {
        let (sql, used) = localise("SELECT '$' || $1", &[Arg::from("x")]);
        assert_eq!(sql, "SELECT '$' || $1");
        assert_eq!(used.len(), 1);
    }

    #[test]
    fn one_statement_needs_no_savepoint() {
        let s = Script::new().then("UPDATE t SET a = 1");
        assert_eq!(s.joined(), "UPDATE t SET a = 1");
        let s = s.then("UPDATE t SET b = 2");
        assert_eq!(
            s.joined(),
            "SAVEPOINT cb_write; UPDATE t SET a = 1; UPDATE t SET b = 2; RELEASE SAVEPOINT cb_write"
        );
    }
}
