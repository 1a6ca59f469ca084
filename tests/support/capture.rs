//! A tracing subscriber that records every span and event with all their fields as text,
//! for tests that check what the library logs (and what it must never log).
#![allow(dead_code)]

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// One span as it ended up: its name and its fields (recorded late ones included).
#[derive(Debug, Clone)]
pub struct CapturedSpan {
    pub name: String,
    pub target: String,
    pub fields: Vec<(String, String)>,
}

impl CapturedSpan {
    /// The last value recorded for `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One event: its level, target and fields (`message` included).
#[derive(Debug, Clone)]
pub struct CapturedEvent {
    pub level: tracing::Level,
    pub target: String,
    pub fields: Vec<(String, String)>,
}

impl CapturedEvent {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Log {
    spans: HashMap<u64, CapturedSpan>,
    order: Vec<u64>,
    events: Vec<CapturedEvent>,
}

/// Records everything at every level. Clone it to keep a handle while it is installed.
#[derive(Clone, Default)]
pub struct Capture {
    log: Arc<Mutex<Log>>,
    next: Arc<AtomicU64>,
}

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0
            .push((field.name().to_string(), format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_string(), value.to_string()));
    }
}

impl Capture {
    /// Every span, in creation order.
    pub fn spans(&self) -> Vec<CapturedSpan> {
        let log = self.log.lock().unwrap();
        log.order.iter().map(|id| log.spans[id].clone()).collect()
    }

    /// The spans named `name`.
    pub fn spans_named(&self, name: &str) -> Vec<CapturedSpan> {
        self.spans()
            .into_iter()
            .filter(|s| s.name == name)
            .collect()
    }

    pub fn events(&self) -> Vec<CapturedEvent> {
        self.log.lock().unwrap().events.clone()
    }

    /// Every name and value of every span and event, as one text to search.
    pub fn all_text(&self) -> String {
        let log = self.log.lock().unwrap();
        let mut out = String::new();
        for s in log.spans.values() {
            out.push_str(&s.name);
            for (k, v) in &s.fields {
                out.push_str(&format!("\n{k}={v}"));
            }
            out.push('\n');
        }
        for e in &log.events {
            for (k, v) in &e.fields {
                out.push_str(&format!("\n{k}={v}"));
            }
            out.push('\n');
        }
        out
    }

    pub fn clear(&self) {
        let mut log = self.log.lock().unwrap();
        *log = Log::default();
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut fields = Vec::new();
        attrs.record(&mut Fields(&mut fields));
        let mut log = self.log.lock().unwrap();
        log.spans.insert(
            id,
            CapturedSpan {
                name: attrs.metadata().name().to_string(),
                target: attrs.metadata().target().to_string(),
                fields,
            },
        );
        log.order.push(id);
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut log = self.log.lock().unwrap();
        if let Some(s) = log.spans.get_mut(&span.into_u64()) {
            values.record(&mut Fields(&mut s.fields));
        }
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Vec::new();
        event.record(&mut Fields(&mut fields));
        self.log.lock().unwrap().events.push(CapturedEvent {
            level: *event.metadata().level(),
            target: event.metadata().target().to_string(),
            fields,
        });
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}
