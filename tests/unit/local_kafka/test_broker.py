"""The local broker's KRaft cluster ids."""


def test_a_new_cluster_id_never_reads_as_an_option():
    from local_kafka.broker import new_cluster_id

    ids = [new_cluster_id() for _ in range(2000)]  # ~31 of them would start with "-" if drawn unchecked
    assert all(len(i) == 22 and not i.startswith("-") for i in ids) and len(set(ids)) == 2000
