"""One database, one controller: a store holds an exclusive lock on its file while it is open."""

import pytest

from controller.store.sqlite import Store, StoreError, read_only


def test_a_second_store_on_the_same_file_is_refused_until_the_first_closes(tmp_path):
    db = tmp_path / 'naas.db'
    first = Store(db)
    for path in (db, tmp_path / '.' / 'naas.db'):
        with pytest.raises(StoreError, match='in use by another naas-controller'):
            Store(path)
    (tmp_path / 'link.db').symlink_to(db)
    with pytest.raises(StoreError, match='in use'):
        Store(tmp_path / 'link.db')
    assert read_only(db) == first.load()  # reading needs no lock
    first.close()
    first.close()  # closing twice is harmless
    second = Store(db)
    second.close()


def test_a_file_that_is_not_a_store_leaves_no_lock_behind(tmp_path):
    bad = tmp_path / 'bad.db'
    bad.write_bytes(b'not sqlite at all' * 100)
    for _ in range(2):
        with pytest.raises(StoreError, match='not a naas-fabric store'):
            Store(bad)
