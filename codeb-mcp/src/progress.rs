//! Progress notifications: when a tool call carries a `progressToken`, the
//! SDK's [`ProgressFeed`] lines for the call are sent as
//! `notifications/progress`, one per engine event, plus a heartbeat while a
//! long step runs quietly, so the client's request timeout is reset and the
//! agent sees how far the call has come.

use codeb::engine::DeployOptions;
use codeb::engine::progress::{ProgressFeed, ProgressLine};
use rmcp::RoleServer;
use rmcp::model::ProgressNotificationParam;
use rmcp::service::RequestContext;

/// The progress of one tool call, or nothing when the client asked for none.
pub struct Progress {
    what: String,
    feed: Option<ProgressFeed>,
}

impl Progress {
    /// Starts forwarding the call's events as progress notifications, if the request has a token.
    pub fn start(context: &RequestContext<RoleServer>, what: String) -> Progress {
        let Some(token) = context.meta.get_progress_token() else { return Progress { what, feed: None } };
        let peer = context.peer.clone();
        let feed = ProgressFeed::start(what.clone(), move |line: ProgressLine| {
            let (peer, token) = (peer.clone(), token.clone());
            async move {
                let param = ProgressNotificationParam::new(token, f64::from(line.count)).with_message(line.message);
                peer.notify_progress(param).await.is_ok()
            }
        });
        Progress { what, feed: Some(feed) }
    }

    /// The options of the SDK call: its events feed the notifications.
    pub fn options(&self) -> DeployOptions {
        match &self.feed {
            Some(feed) => feed.options("mcp"),
            None => DeployOptions { message: Some(format!("mcp {}", self.what)), ..DeployOptions::default() },
        }
    }

    /// Waits until every notification of the call has been sent.
    pub async fn finish(self) {
        if let Some(feed) = self.feed {
            feed.finish().await;
        }
    }
}
