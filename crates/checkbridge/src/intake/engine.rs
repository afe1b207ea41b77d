//! The jq engine (the `jaq` crates) behind intake mappings: compiling a program with errors
//! placed by line and column, and running it on one invitation within a budget.
//!
//! jaq has no fuel of its own, and a thread cannot be stopped from outside, so the budget is
//! enforced from inside the interpreter: every step of a jq program clones the run's data
//! (a definition's call, a pipe, a comma, a `reduce` step), and our data's `Clone` counts
//! steps, looks at the clock every 1024 of them and measures how deep the stack has grown.
//! Past any limit it unwinds (without the panic hook, so nothing is printed) back to
//! [`Program::run`], which reports which limit was met. `def f: f; f`, `repeat(1)` without
//! `first`, `last(range(1e12))` and `def f: 1 + f; f` all end that way. What the budget does
//! not bound is one native builtin's own work on one huge value (`"x" * 1e10` allocates at
//! once); the poller's deadline ([`super::map_all`]) is the backstop for that.
//!
//! Builtins that reach outside the value are withheld: `env` fails (the service's environment
//! holds secrets), `debug` and `stderr` print nothing (they would print candidate data),
//! `input`/`inputs` are not there, and `include`/`import` find no file. `halt` ends the
//! mapping with an error, never the process.

use std::cell::Cell;
use std::time::{Duration, Instant};

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{data::HasLut, Ctx, DataT, Vars};
use jaq_json::Val;
use serde_json::Value;

use super::MapError;

type RunPtr = jaq_core::RunPtr<Intake>;

/// Steps (interpreter clones) one invitation may take.
pub const MAX_STEPS: u64 = 2_000_000;
/// Wall time one invitation may take.
pub const MAX_TIME: Duration = Duration::from_millis(500);
/// Stack one run may use; the mapping thread is given more than this.
pub const MAX_STACK: usize = 8 * 1024 * 1024;
/// The mapping thread's stack: room for [`MAX_STACK`] plus the frames between two checks,
/// and for dropping what a stopped run built. A value nested as deep as the step budget
/// allows (`reduce range(1e9) as $i (null; [.])`) is freed by recursion, one frame per level,
/// after the run unwinds; 32 MiB overflowed (an abort of the whole process) on an idle
/// machine, where the run reaches the step limit before the clock, and 64 MiB held, so this
/// is twice that. It is address space reserved per mapping thread, touched only by such a run.
pub const THREAD_STACK: usize = 16 * MAX_STACK;

/// Builtins a mapping may not use (see the module docs): replaced, not removed, because the
/// standard library's own definitions (`debug`, `stderr`) call them.
/// `range` is replaced too: jaq's own counts on without a step, so `last(range(1e12))`
/// would run past the budget.
const WITHHELD: &[&str] = &["env", "debug_empty", "stderr_empty", "range"];

/// `env`: fails (the service's environment holds secrets).
fn no_env(_: jaq_core::Cv<'_, Intake>) -> jaq_core::ValXs<'_, Val> {
    jaq_core::native::bome(Err(jaq_core::Error::str(
        "env is not available to a mapping",
    )))
}

/// `range/3`, one budget step per value.
fn counted_range(mut cv: jaq_core::Cv<'_, Intake>) -> jaq_core::ValXs<'_, Val> {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let by = cv.0.pop_var();
    let to = cv.0.pop_var();
    let from = cv.0.pop_var();
    let data = cv.0.data().clone();
    let direction = by.partial_cmp(&Val::from(0isize)).unwrap_or(Equal);
    let mut next = Some(from);
    Box::new(std::iter::from_fn(move || {
        let x = next.take()?;
        let more = match direction {
            Greater => x < to,
            Less => x > to,
            Equal => x != to,
        };
        if !more {
            return None;
        }
        data.budget.step();
        match x.clone() + by.clone() {
            Ok(n) => next = Some(n),
            Err(e) => return Some(Err(jaq_core::Exn::from(e))),
        }
        Some(Ok(x))
    }))
}

/// `debug_empty`, `stderr_empty`: print nothing (they would print candidate data).
fn nothing(_: jaq_core::Cv<'_, Intake>) -> jaq_core::ValXs<'_, Val> {
    Box::new(std::iter::empty())
}

/// A compiled jq program.
pub struct Program {
    filter: jaq_core::Filter<Intake>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Program")
    }
}

/// Where a compile error is, and what it is (no values: a program holds none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// 1-based line and column (in characters) of byte `offset` in `code`.
fn place(code: &str, offset: usize) -> (usize, usize) {
    let before = code.get(..offset.min(code.len())).unwrap_or(code);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

/// The byte offset of `part` in `whole` when it is a slice of it, else the end.
fn offset_in(whole: &str, part: &str) -> usize {
    let (w, p) = (whole.as_ptr() as usize, part.as_ptr() as usize);
    if p >= w && p <= w + whole.len() {
        p - w
    } else {
        whole.len()
    }
}

fn lex_expect(e: &jaq_core::load::lex::Expect<&str>) -> &'static str {
    use jaq_core::load::lex::Expect;
    match e {
        Expect::Digit => "a digit",
        Expect::Ident => "an identifier",
        Expect::Delim("(") => "a closing parenthesis",
        Expect::Delim("[") => "a closing bracket",
        Expect::Delim("{") => "a closing brace",
        Expect::Delim("\"") => "a closing quote",
        Expect::Delim(_) => "a closing delimiter",
        Expect::Escape => "a string escape sequence",
        Expect::Unicode => "a 4-digit hexadecimal code point",
        Expect::Token => "a token",
        _ => "something else",
    }
}

impl Program {
    /// Compiles `code`: the first error found, placed by line and column.
    pub fn compile(code: &str) -> Result<Program, CompileError> {
        use jaq_core::load::Error as LoadError;
        let at = |part: &str, message: String| {
            let (line, column) = place(code, offset_in(code, part));
            CompileError {
                line,
                column,
                message,
            }
        };
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        let loader = Loader::new(defs);
        let arena = Arena::default();
        let modules = loader
            .load(&arena, File { code, path: () })
            .map_err(|errs| {
                let first = errs.into_iter().next().map(|(_, e)| e);
                match first {
                    Some(LoadError::Lex(errs)) => match errs.first() {
                        Some((expect, found)) => {
                            at(found, format!("expected {}", lex_expect(expect)))
                        }
                        None => at("", "the program cannot be read".to_owned()),
                    },
                    Some(LoadError::Parse(errs)) => match errs.first() {
                        Some((expect, found)) => {
                            let what = if found.is_empty() {
                                "the end of the program".to_owned()
                            } else {
                                format!("`{}`", found.chars().take(20).collect::<String>())
                            };
                            at(found, format!("expected {}, found {what}", expect.as_str()))
                        }
                        None => at("", "the program cannot be parsed".to_owned()),
                    },
                    Some(LoadError::Io(errs)) => match errs.first() {
                        Some((path, _)) => at(
                            path,
                            "a mapping cannot include or import other files".to_owned(),
                        ),
                        None => at(
                            "",
                            "a mapping cannot include or import other files".to_owned(),
                        ),
                    },
                    None => at("", "the program cannot be read".to_owned()),
                }
            })?;
        let funs = jaq_core::funs::<Intake>()
            .chain(jaq_std::funs::<Intake>())
            .chain(jaq_json::funs::<Intake>())
            .filter(|(name, _, _)| !WITHHELD.contains(name))
            .chain([
                jaq_core::native::run::<Intake>(("env", jaq_core::native::v(0), no_env as RunPtr)),
                jaq_core::native::run::<Intake>((
                    "debug_empty",
                    jaq_core::native::v(0),
                    nothing as RunPtr,
                )),
                jaq_core::native::run::<Intake>((
                    "stderr_empty",
                    jaq_core::native::v(0),
                    nothing as RunPtr,
                )),
                jaq_core::native::run::<Intake>((
                    "range",
                    jaq_core::native::v(3),
                    counted_range as RunPtr,
                )),
            ]);
        let filter = jaq_core::Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errs| {
                let first = errs.into_iter().flat_map(|(_, e)| e).next();
                match first {
                    Some((name, undefined)) => {
                        let what = match undefined {
                            jaq_core::compile::Undefined::Filter(arity) => {
                                format!("filter `{name}/{arity}`")
                            }
                            other => format!("{} `{name}`", other.as_str()),
                        };
                        at(name, format!("undefined {what}"))
                    }
                    None => at("", "the program cannot be compiled".to_owned()),
                }
            })?;
        Ok(Program { filter })
    }

    /// Runs the program on one value: its one output, within the budget. Call it on a
    /// thread with a stack of at least [`THREAD_STACK`].
    pub fn run(&self, input: Value) -> Result<Value, MapError> {
        let input: Val = serde_json::from_value(input)
            .map_err(|_| MapError::Runtime("the invitation could not be read".to_owned()))?;
        let budget = Budget::new();
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let data = RunData {
                lut: &self.filter.lut,
                budget: &budget,
            };
            let ctx = Ctx::<Intake>::new(data, Vars::new([]));
            let mut outputs = self.filter.id.run((ctx, input));
            let first = outputs.next().map(settle);
            let second = match first {
                Some(Ok(_)) => outputs.next().map(|_| ()),
                _ => None,
            };
            match (first, second) {
                (None, _) => Err(MapError::NoOutput),
                (Some(Err(e)), _) => Err(e),
                (Some(Ok(_)), Some(())) => Err(MapError::ManyOutputs),
                (Some(Ok(v)), None) => Ok(v.to_string()),
            }
        }));
        let json = match ran {
            Ok(r) => r?,
            Err(payload) => {
                return Err(match payload.downcast::<Exceeded>() {
                    Ok(exceeded) => MapError::Budget(*exceeded),
                    Err(_) => MapError::Runtime("the mapping stopped unexpectedly".to_owned()),
                })
            }
        };
        serde_json::from_str(&json)
            .map_err(|_| MapError::Runtime("the output is not JSON".to_owned()))
    }
}

/// One output: a value, or the error it raised (its text without values from the input).
fn settle(v: jaq_core::ValX<'_, Val>) -> Result<Val, MapError> {
    v.map_err(|exn| match exn.get_err() {
        Ok(e) => MapError::Runtime(withhold_values(&e.to_string())),
        Err(exn) => match exn.get_halt() {
            Ok(code) => MapError::Runtime(format!("the program called halt ({code})")),
            Err(_) => MapError::Runtime("the program stopped unexpectedly".to_owned()),
        },
    })
}

/// An error's text with the values it quotes withheld: jaq's errors quote the values they
/// met (`cannot index "Jane" with ...`), and those are candidate data. Strings become `"…"`,
/// numbers `#`.
pub fn withhold_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    match (escaped, c) {
                        (false, '\\') => escaped = true,
                        (false, '"') => break,
                        _ => escaped = false,
                    }
                }
                out.push_str("\"…\"");
            }
            c if c.is_ascii_digit() => {
                while chars
                    .peek()
                    .is_some_and(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
                {
                    chars.next();
                }
                out.push('#');
            }
            c => out.push(c),
        }
        if out.chars().count() > 200 {
            out.push('…');
            break;
        }
    }
    out
}

/// Which limit of the budget a run met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    Steps,
    Time,
    Stack,
}

impl std::fmt::Display for Exceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Exceeded::Steps => "it took more than the step budget (does it loop?)",
            Exceeded::Time => "it ran longer than the time budget (does it loop?)",
            Exceeded::Stack => {
                "it recursed deeper than the stack budget (does it recurse without end?)"
            }
        })
    }
}

/// The limits of one run, checked from the interpreter's own steps.
struct Budget {
    steps: Cell<u64>,
    deadline: Instant,
    stack_base: usize,
}

impl Budget {
    fn new() -> Budget {
        Budget {
            steps: Cell::new(0),
            deadline: Instant::now() + MAX_TIME,
            stack_base: stack_position(),
        }
    }

    fn step(&self) {
        let n = self.steps.get() + 1;
        self.steps.set(n);
        let exceeded = if n > MAX_STEPS {
            Some(Exceeded::Steps)
        } else if n.is_multiple_of(1024) && Instant::now() > self.deadline {
            Some(Exceeded::Time)
        } else if self.stack_base.abs_diff(stack_position()) > MAX_STACK {
            Some(Exceeded::Stack)
        } else {
            None
        };
        if let Some(e) = exceeded {
            // Unwinds to Program::run without running the panic hook (nothing printed).
            std::panic::resume_unwind(Box::new(e));
        }
    }
}

/// Roughly where the stack is now (the address of a local).
#[inline(never)]
fn stack_position() -> usize {
    let here = 0u8;
    std::hint::black_box(&here) as *const u8 as usize
}

/// The data kind of an intake run: JSON values, and the budget in the run's data.
pub struct Intake;

impl DataT for Intake {
    type V<'a> = Val;
    type Data<'a> = RunData<'a>;
}

/// The run's data: jaq clones it at every step, which is where the budget is counted.
pub struct RunData<'a> {
    lut: &'a jaq_core::Lut<Intake>,
    budget: &'a Budget,
}

impl Clone for RunData<'_> {
    fn clone(&self) -> Self {
        self.budget.step();
        RunData {
            lut: self.lut,
            budget: self.budget,
        }
    }
}

impl<'a> HasLut<'a, Intake> for RunData<'a> {
    fn lut(&self) -> &'a jaq_core::Lut<Intake> {
        self.lut
    }
}
