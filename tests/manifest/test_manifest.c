/* Tests of the signed project manifest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fc_manifest.h"
#include "fl_file.h"

static char s_path[256];

static int make_path(void **state)
{
    (void)state;
    assert_int_equal(fc_init(), FL_OK);
    snprintf(s_path, sizeof(s_path), "/tmp/fl_test_manifest.%ld.json", (long)getpid());
    return 0;
}

static int remove_file(void **state)
{
    (void)state;
    unlink(s_path);
    return 0;
}

static void make_party(fc_party *party, fc_role role, const char *name)
{
    fc_identity *identity = NULL;
    assert_int_equal(fc_identity_generate(&identity), FL_OK);
    snprintf(party->name, sizeof(party->name), "%s", name);
    party->role = role;
    fc_identity_public(identity, &party->keys);
    fc_identity_destroy(&identity);
}

/* Writes a manifest with three sites and one researcher, signed by *project. */
static void write_manifest(fc_identity **project, fc_manifest *manifest)
{
    memset(manifest, 0, sizeof(*manifest));
    assert_int_equal(fc_identity_generate(project), FL_OK);
    snprintf(manifest->project, sizeof(manifest->project), "cardio");
    snprintf(manifest->endpoint, sizeof(manifest->endpoint), "tcp://127.0.0.1:7700");
    snprintf(manifest->admin_endpoint, sizeof(manifest->admin_endpoint), "tcp://127.0.0.1:7701");
    make_party(&manifest->coordinator, FC_ROLE_COORDINATOR, "coordinator");
    manifest->site_count = 3;
    manifest->sites = calloc(3, sizeof(fc_party));
    make_party(&manifest->sites[0], FC_ROLE_SITE, "hospital-a");
    make_party(&manifest->sites[1], FC_ROLE_SITE, "hospital-b");
    make_party(&manifest->sites[2], FC_ROLE_SITE, "hospital-c");
    manifest->researcher_count = 1;
    manifest->researchers = calloc(1, sizeof(fc_party));
    make_party(&manifest->researchers[0], FC_ROLE_RESEARCHER, "alice");

    fl_error err = {0};
    assert_int_equal(fc_manifest_save(manifest, *project, s_path, &err), FL_OK);
}

static void project_public(const fc_identity *project, uint8_t out[FC_SIGN_PUBLIC_BYTES])
{
    fc_public_identity keys;
    fc_identity_public(project, &keys);
    memcpy(out, keys.sign_public, FC_SIGN_PUBLIC_BYTES);
}

static void test_saved_manifest_loads(void **state)
{
    (void)state;
    fc_identity *project = NULL;
    fc_manifest written;
    write_manifest(&project, &written);
    uint8_t key[FC_SIGN_PUBLIC_BYTES];
    project_public(project, key);

    fc_manifest *loaded = NULL;
    fl_error err = {0};
    assert_int_equal(fc_manifest_load(s_path, key, &loaded, &err), FL_OK);
    assert_string_equal(loaded->project, "cardio");
    assert_int_equal(loaded->site_count, 3);
    assert_memory_equal(&loaded->sites[1], &written.sites[1], sizeof(fc_party));

    const fc_party *found = fc_manifest_find_curve(loaded, written.sites[2].keys.curve_public);
    assert_non_null(found);
    assert_string_equal(found->name, "hospital-c");
    assert_int_equal(found->role, FC_ROLE_SITE);
    assert_non_null(fc_manifest_find(loaded, FC_ROLE_RESEARCHER, "alice"));
    assert_null(fc_manifest_find(loaded, FC_ROLE_SITE, "alice"));

    fc_manifest_destroy(&loaded);
    fc_manifest_release(&written);
    fc_identity_destroy(&project);
}

static void test_altered_manifest_rejected(void **state)
{
    (void)state;
    fc_identity *project = NULL;
    fc_manifest written;
    write_manifest(&project, &written);
    uint8_t key[FC_SIGN_PUBLIC_BYTES];
    project_public(project, key);

    char *text = NULL;
    size_t length = 0;
    fl_error err = {0};
    assert_int_equal(fl_file_read_all(s_path, 1 << 20, &text, &length, &err), FL_OK);
    char *name = strstr(text, "hospital-b");
    assert_non_null(name);
    name[9] = 'x';
    assert_int_equal(fl_file_write_atomic(s_path, text, length, 0644, &err), FL_OK);
    free(text);

    fc_manifest *loaded = NULL;
    assert_int_equal(fc_manifest_load(s_path, key, &loaded, &err), FL_ECRYPTO);
    assert_null(loaded);
    assert_non_null(strstr(err.msg, "signature does not match"));

    fc_manifest_release(&written);
    fc_identity_destroy(&project);
}

static void test_other_project_key_rejected(void **state)
{
    (void)state;
    fc_identity *project = NULL, *other = NULL;
    fc_manifest written;
    write_manifest(&project, &written);
    assert_int_equal(fc_identity_generate(&other), FL_OK);
    uint8_t key[FC_SIGN_PUBLIC_BYTES];
    project_public(other, key);

    fc_manifest *loaded = NULL;
    fl_error err = {0};
    assert_int_equal(fc_manifest_load(s_path, key, &loaded, &err), FL_ECRYPTO);

    fc_manifest_release(&written);
    fc_identity_destroy(&project);
    fc_identity_destroy(&other);
}

static void test_duplicate_site_rejected(void **state)
{
    (void)state;
    fc_identity *project = NULL;
    fc_manifest written;
    write_manifest(&project, &written);
    snprintf(written.sites[2].name, sizeof(written.sites[2].name), "hospital-a");
    fl_error err = {0};
    assert_int_equal(fc_manifest_save(&written, project, s_path, &err), FL_EINVAL);
    assert_non_null(strstr(err.msg, "'hospital-a' is listed twice"));

    snprintf(written.sites[2].name, sizeof(written.sites[2].name), "bad/name");
    assert_int_equal(fc_manifest_save(&written, project, s_path, &err), FL_EINVAL);
    assert_non_null(strstr(err.msg, "contains '/'"));

    fc_manifest_release(&written);
    fc_identity_destroy(&project);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_saved_manifest_loads, make_path, remove_file),
        cmocka_unit_test_setup_teardown(test_altered_manifest_rejected, make_path, remove_file),
        cmocka_unit_test_setup_teardown(test_other_project_key_rejected, make_path, remove_file),
        cmocka_unit_test_setup_teardown(test_duplicate_site_rejected, make_path, remove_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
