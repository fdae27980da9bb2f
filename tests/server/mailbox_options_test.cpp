// Mailbox options: the defaults per provider, the effective Sent copy, options as typed (CLI, admin page) and how
// the CLI and the API show them.
#include "server/domain/account_input.hpp"
#include "server/domain/mailbox_options.hpp"
#include "server/store/account_view.hpp"

#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

using namespace mailgate;
using domain::pop3_source;
using domain::save_sent;

TEST(mailbox_options, defaults_take_pop3_from_imap_where_the_provider_has_no_pop3) {
    EXPECT_EQ(domain::default_mailbox_options("icloud").pop3, pop3_source::imap);
    for (auto provider : {"gmail", "outlook", "yahoo", "custom", "unknown"})
        EXPECT_EQ(domain::default_mailbox_options(provider).pop3, pop3_source::native) << provider;
    auto d = domain::default_mailbox_options("gmail");
    EXPECT_EQ(d.pop3_folder, "INBOX");
    EXPECT_FALSE(d.pop3_mark_seen);
    EXPECT_EQ(d.sent, save_sent::automatic);
    EXPECT_EQ(d.sent_folder, "Sent");
}

TEST(mailbox_options, a_sent_copy_unless_the_provider_files_sent_mail_itself) {
    domain::mailbox_options o;
    EXPECT_FALSE(domain::saves_sent_copy(o, "gmail"));
    EXPECT_FALSE(domain::saves_sent_copy(o, "outlook"));
    EXPECT_TRUE(domain::saves_sent_copy(o, "icloud"));
    EXPECT_TRUE(domain::saves_sent_copy(o, "custom"));
    o.sent = save_sent::always;
    EXPECT_TRUE(domain::saves_sent_copy(o, "gmail"));
    o.sent = save_sent::never;
    EXPECT_FALSE(domain::saves_sent_copy(o, "custom"));
}

TEST(mailbox_options, input_applies_what_is_given_and_names_the_bad_field) {
    auto o = domain::default_mailbox_options("custom");
    domain::mailbox_input in;
    EXPECT_TRUE(in.empty());
    ASSERT_TRUE(domain::apply_mailbox_input(o, in));
    EXPECT_EQ(o.pop3, pop3_source::native);
    in.pop3_source = "imap";
    in.pop3_mark_seen = true;
    in.sent_folder = "Sent Items";
    EXPECT_FALSE(in.empty());
    ASSERT_TRUE(domain::apply_mailbox_input(o, in));
    EXPECT_EQ(o.pop3, pop3_source::imap);
    EXPECT_TRUE(o.pop3_mark_seen);
    EXPECT_EQ(o.pop3_folder, "INBOX"); // not given: kept
    EXPECT_EQ(o.sent, save_sent::automatic);
    EXPECT_EQ(o.sent_folder, "Sent Items");

    domain::mailbox_input bad;
    bad.pop3_source = "IMAP";
    auto r = domain::apply_mailbox_input(o, bad);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "pop3_source must be native or imap, not 'IMAP'");
    bad = {};
    bad.save_sent = "sometimes";
    r = domain::apply_mailbox_input(o, bad);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "save_sent must be auto, always or never, not 'sometimes'");
}

TEST(mailbox_options, validation_of_folders_and_the_imap_endpoint) {
    domain::mailbox_options o;
    EXPECT_TRUE(domain::validate_mailbox_options(o, false)); // native POP3 needs nothing
    o.pop3 = pop3_source::imap;
    auto r = domain::validate_mailbox_options(o, false);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("pop3_source imap needs an IMAP endpoint"), std::string::npos);
    EXPECT_TRUE(domain::validate_mailbox_options(o, true));
    o.pop3_folder = "[Gmail]/All Mail \"quoted\""; // IMAP quoting is the session's job, not refused here
    EXPECT_TRUE(domain::validate_mailbox_options(o, true));
    o.pop3_folder = "Entw\xc3\xbcrfe"; // 8-bit: the provider's modified UTF-7 name is wanted
    EXPECT_FALSE(domain::validate_mailbox_options(o, true));
    o.pop3_folder = "Entw&APw-rfe";
    EXPECT_TRUE(domain::validate_mailbox_options(o, true));
    o.sent_folder = std::string(256, 's');
    r = domain::validate_mailbox_options(o, true);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "sent_folder is longer than 255 bytes");
}

TEST(mailbox_options, the_cli_text_and_the_json_show_them) {
    store::account a;
    a.name = "phone";
    a.provider = "icloud";
    a.mailbox = {pop3_source::imap, "Archive", true, save_sent::automatic, "Sent Messages"};
    auto text = store::format_account(a);
    EXPECT_NE(text.find("pop3 source:  imap (from an IMAP folder)\n"), std::string::npos) << text;
    EXPECT_NE(text.find("pop3 folder:  Archive\n"), std::string::npos) << text;
    EXPECT_NE(text.find("mark seen:    yes\n"), std::string::npos) << text;
    EXPECT_NE(text.find("save sent:    auto (a copy goes to the Sent folder)\n"), std::string::npos) << text;
    EXPECT_NE(text.find("sent folder:  Sent Messages\n"), std::string::npos) << text;
    auto json = store::account_json(a).as_object();
    EXPECT_EQ(json.at("pop3_source"), "imap");
    EXPECT_EQ(json.at("pop3_folder"), "Archive");
    EXPECT_EQ(json.at("pop3_mark_seen"), true);
    EXPECT_EQ(json.at("save_sent"), "auto");
    EXPECT_EQ(json.at("sent_folder"), "Sent Messages");
    EXPECT_EQ(json.at("saves_sent_copy"), true);

    a.provider = "gmail"; // files sent mail itself
    a.mailbox = {};
    text = store::format_account(a);
    EXPECT_NE(text.find("pop3 source:  native (the provider's POP3)\n"), std::string::npos) << text;
    EXPECT_NE(text.find("mark seen:    no\n"), std::string::npos) << text;
    EXPECT_NE(text.find("save sent:    auto (no copy: the provider files sent mail)\n"), std::string::npos)
        << text;
    EXPECT_EQ(store::account_json(a).as_object().at("saves_sent_copy"), false);
    a.mailbox.sent = save_sent::never;
    EXPECT_NE(store::format_account(a).find("save sent:    never (no copy)\n"), std::string::npos);
}
