//! HTTP-level tests against a real `kumocms serve` on an ephemeral port.

// Test helpers panic with a message on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod auth;
mod errors;
mod hardening;
mod history;
mod lifecycle;
mod links;
mod listing;
mod multipart;
mod openapi;
mod restart;
mod security;
mod web;
