//! With `--state-file`, a sandbox restarted on the same file still has its bots, tokens, users
//! and messages, so a demo survives a restart.
use crate::sandbox_support::TestSandbox;
use bellhop_telegram::BotToken;
use bellhop_sandbox::SandboxOptions;
use bellhop_telegram::methods::SendMessage;

#[tokio::test]
async fn the_world_survives_a_restart_with_a_state_file() {
    let dir = std::env::temp_dir().join(format!("bellhop-sandbox-state-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sandbox.json");
    let opts = SandboxOptions { state_file: Some(file.clone()), ..Default::default() };

    let sb = TestSandbox::start_with(opts.clone()).await;
    let lou = sb.user("Lou").await;
    let child = sb.create_managed_bot(lou, "lous_bot", "Lou's").await;
    let token = sb.get(&format!("bots/{}", child["id"])).await["token"].as_str().unwrap().to_owned();
    let manager_token = sb.manager();
    sb.say(lou, sb.handle.sandbox.manager_id(), "remember me").await;
    sb.handle.shutdown().await.unwrap();
    assert!(file.exists());

    let again = TestSandbox::start_with(opts).await;
    assert_eq!(again.manager().expose(), manager_token.expose(), "the manager keeps its token");
    let child_bot = again.client.bot(BotToken::parse(&token).unwrap());
    assert_eq!(child_bot.get_me().await.unwrap().username.as_deref(), Some("lous_bot"));
    let manager = again.client.bot(again.manager());
    let updates = manager.get_updates(None, 0).await.unwrap();
    assert!(updates.iter().any(|u| u.kind.name() == "managed_bot"), "pending updates survive");
    assert!(manager.send_message(&SendMessage::new(lou, "welcome back")).await.is_ok(), "users and chats survive");
    again.handle.shutdown().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
