package io.tunestream.schemas.kafka;

import io.tunestream.schemas.AccessTable;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.acl.AccessControlEntryFilter;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.ResourcePatternFilter;

/** Creates the ACLs of an {@link AccessTable} role for a principal; run by the admin principal. Idempotent. */
public final class AccessGrants {

    private AccessGrants() {
    }

    /**
     * Gives {@code principal} the rows of {@code role}, and returns once the broker that answered
     * enforces them (the controller commits ACLs first; brokers apply them a moment later).
     *
     * @return the bindings created (or already present)
     * @throws IllegalStateException naming the principal and role when the broker refuses or does not answer
     */
    public static List<AclBinding> grant(Admin admin, AccessTable.Role role, String principal, AccessTable.Names names,
                                         Duration timeout) {
        List<AclBinding> bindings = AccessTable.bindings(role, principal, names);
        try {
            long deadline = System.nanoTime() + timeout.toNanos();
            admin.createAcls(bindings).all().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            AclBindingFilter ofPrincipal = new AclBindingFilter(ResourcePatternFilter.ANY,
                    new AccessControlEntryFilter(principal, null, AclOperation.ANY, AclPermissionType.ANY));
            while (!admin.describeAcls(ofPrincipal).values().get(timeout.toMillis(), TimeUnit.MILLISECONDS)
                    .containsAll(bindings)) {
                if (System.nanoTime() > deadline) {
                    throw new TimeoutException("ACLs created but not yet enforced");
                }
                Thread.sleep(20);
            }
            return bindings;
        } catch (ExecutionException e) {
            throw new IllegalStateException("the ACLs of role " + role + " could not be created for " + principal
                    + ": " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("the broker did not confirm the ACLs of role " + role + " for " + principal
                    + " within " + timeout, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating the ACLs of " + principal, e);
        }
    }
}
