/* Tests of the global adapter: layout, signature, server step and checkpoints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coord_adapter.h"
#include "fc_adapter_sig.h"
#include "job_fixture.h"

static void test_frozen_a_trains_b_only(void **state)
{
    (void)state;
    coord_job_spec job;
    fixture_job(&job, "j", "\"lora\":{\"r\":4,\"mode\":\"frozen-a\"}");
    coord_adapter adapter;
    fl_error err = {0};
    assert_int_equal(coord_adapter_init(&adapter, &job, &err), FL_OK);
    assert_int_equal(adapter.trained_offset, adapter.lora.a_count);
    assert_int_equal(adapter.trained_offset + adapter.trained_count, adapter.lora.num_params);

    /* PEFT initialisation: B starts at zero, A does not. */
    float a_abs = 0, b_abs = 0;
    for (size_t i = 0; i < adapter.lora.num_params; i++) {
        if (i < adapter.lora.a_count)
            a_abs += adapter.lora.memory[i] < 0 ? -adapter.lora.memory[i] : adapter.lora.memory[i];
        else
            b_abs += adapter.lora.memory[i] < 0 ? -adapter.lora.memory[i] : adapter.lora.memory[i];
    }
    assert_true(a_abs > 0);
    assert_true(b_abs == 0);
    coord_adapter_release(&adapter);
}

static void test_signature_binds_job_and_round(void **state)
{
    (void)state;
    assert_int_equal(fc_init(), FL_OK);
    coord_job_spec job;
    fixture_job(&job, "j", "");
    coord_adapter adapter;
    fl_error err = {0};
    assert_int_equal(coord_adapter_init(&adapter, &job, &err), FL_OK);
    fc_identity *identity = NULL;
    assert_int_equal(fc_identity_generate(&identity), FL_OK);
    fc_public_identity keys;
    fc_identity_public(identity, &keys);

    uint8_t signature[FC_SIGNATURE_BYTES], hash[COORD_ADAPTER_HASH_BYTES];
    coord_adapter_sign(&adapter, "j", 3, identity, signature);
    coord_adapter_hash(&adapter, hash);
    assert_int_equal(fc_adapter_verify(signature, keys.sign_public, "j", 3, hash), FL_OK);
    assert_int_equal(fc_adapter_verify(signature, keys.sign_public, "j", 2, hash), FL_ECRYPTO);
    assert_int_equal(fc_adapter_verify(signature, keys.sign_public, "k", 3, hash), FL_ECRYPTO);
    hash[0] ^= 1;
    assert_int_equal(fc_adapter_verify(signature, keys.sign_public, "j", 3, hash), FL_ECRYPTO);

    fc_identity_destroy(&identity);
    coord_adapter_release(&adapter);
}

static void test_checkpoint_round_trip(void **state)
{
    (void)state;
    coord_job_spec job;
    fixture_job(&job, "j", "\"server_optimizer\":{\"name\":\"fedadam\"}");
    coord_adapter adapter, restored;
    fl_error err = {0};
    assert_int_equal(coord_adapter_init(&adapter, &job, &err), FL_OK);
    float *delta = calloc(adapter.trained_count, sizeof(float));
    for (size_t i = 0; i < adapter.trained_count; i++)
        delta[i] = (float)((int)(i % 7) - 3) * 1e-3f;
    coord_adapter_apply(&adapter, delta);
    coord_adapter_apply(&adapter, delta);

    char folder[] = "/tmp/fl_test_adapter.XXXXXX";
    assert_non_null(mkdtemp(folder));
    if (coord_adapter_save(&adapter, folder, "tiny", &err) != FL_OK)
        fail_msg("save failed: %s", err.msg);
    assert_int_equal(coord_adapter_init(&restored, &job, &err), FL_OK);
    if (coord_adapter_load(&restored, folder, &err) != FL_OK)
        fail_msg("load failed: %s", err.msg);

    assert_memory_equal(restored.lora.memory, adapter.lora.memory,
                        adapter.lora.num_params * sizeof(float));
    assert_memory_equal(restored.optim.m, adapter.optim.m, adapter.trained_count * sizeof(float));
    assert_memory_equal(restored.optim.v, adapter.optim.v, adapter.trained_count * sizeof(float));
    assert_int_equal(restored.optim.steps, 2);

    char command[128];
    snprintf(command, sizeof(command), "rm -rf '%s'", folder);
    assert_int_equal(system(command), 0);
    free(delta);
    coord_adapter_release(&adapter);
    coord_adapter_release(&restored);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frozen_a_trains_b_only),
        cmocka_unit_test(test_signature_binds_job_and_round),
        cmocka_unit_test(test_checkpoint_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
